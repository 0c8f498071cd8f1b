// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of kext_bindings.h: static inlines and macros of the block
 * layer, RDMA verbs and scatterlists as real functions, for Rust. Compiled
 * into each module (its kext_helpers.c includes this file), not exported.
 */
#include "kext_bindings.h"
struct bio *rnbd_helper_bio_alloc(struct block_device *bdev, unsigned short nr_vecs,
				  blk_opf_t opf, gfp_t gfp_mask)
{
	return bio_alloc(bdev, nr_vecs, opf, gfp_mask);
}

/* struct hd_geometry is opaque to the kernel's Rust bindings. */
void rnbd_helper_set_geometry(struct hd_geometry *geo, unsigned short cylinders,
			      unsigned char heads, unsigned char sectors)
{
	geo->cylinders = cylinders;
	geo->heads = heads;
	geo->sectors = sectors;
	geo->start = 0;
}

sector_t rnbd_helper_bdev_nr_sectors(struct block_device *bdev)
{
	return bdev_nr_sectors(bdev);
}

unsigned int rnbd_helper_bdev_logical_block_size(struct block_device *bdev)
{
	return bdev_logical_block_size(bdev);
}

unsigned int rnbd_helper_bdev_physical_block_size(struct block_device *bdev)
{
	return bdev_physical_block_size(bdev);
}

unsigned int rnbd_helper_bdev_max_discard_sectors(struct block_device *bdev)
{
	return bdev_max_discard_sectors(bdev);
}

unsigned int rnbd_helper_bdev_discard_granularity(struct block_device *bdev)
{
	return bdev_discard_granularity(bdev);
}

unsigned int rnbd_helper_bdev_write_zeroes_sectors(struct block_device *bdev)
{
	return bdev_write_zeroes_sectors(bdev);
}

unsigned int rnbd_helper_bdev_max_secure_erase_sectors(struct block_device *bdev)
{
	return bdev_max_secure_erase_sectors(bdev);
}

unsigned short rnbd_helper_bdev_max_segments(struct block_device *bdev)
{
	return bdev_max_segments(bdev);
}

unsigned int rnbd_helper_bdev_max_hw_sectors(struct block_device *bdev)
{
	return queue_max_hw_sectors(bdev_get_queue(bdev));
}

bool rnbd_helper_bdev_write_cache(struct block_device *bdev)
{
	return bdev_write_cache(bdev);
}

bool rnbd_helper_bdev_fua(struct block_device *bdev)
{
	return bdev_fua(bdev);
}

sector_t rnbd_helper_blk_rq_pos(const struct request *rq)
{
	return blk_rq_pos(rq);
}

unsigned int rnbd_helper_blk_rq_bytes(const struct request *rq)
{
	return blk_rq_bytes(rq);
}

unsigned short rnbd_helper_blk_rq_nr_phys_segments(struct request *rq)
{
	return blk_rq_nr_phys_segments(rq);
}

enum req_op rnbd_helper_req_op(const struct request *rq)
{
	return req_op(rq);
}

int rnbd_helper_blk_rq_map_sg(struct request_queue *q, struct request *rq,
			      struct scatterlist *sglist)
{
	return blk_rq_map_sg(q, rq, sglist);
}


int rnbd_helper_ib_post_send(struct ib_qp *qp, const struct ib_send_wr *send_wr,
			     const struct ib_send_wr **bad_send_wr)
{
	return ib_post_send(qp, send_wr, bad_send_wr);
}

int rnbd_helper_ib_post_recv(struct ib_qp *qp, const struct ib_recv_wr *recv_wr,
			     const struct ib_recv_wr **bad_recv_wr)
{
	return ib_post_recv(qp, recv_wr, bad_recv_wr);
}

int rnbd_helper_ib_req_notify_cq(struct ib_cq *cq, enum ib_cq_notify_flags flags)
{
	return ib_req_notify_cq(cq, flags);
}

int rnbd_helper_ib_dma_mapping_error(struct ib_device *dev, u64 dma_addr)
{
	return ib_dma_mapping_error(dev, dma_addr);
}

u64 rnbd_helper_ib_dma_map_single(struct ib_device *dev, void *cpu_addr, size_t size,
				  enum dma_data_direction direction)
{
	return ib_dma_map_single(dev, cpu_addr, size, direction);
}

void rnbd_helper_ib_dma_unmap_single(struct ib_device *dev, u64 addr, size_t size,
				     enum dma_data_direction direction)
{
	ib_dma_unmap_single(dev, addr, size, direction);
}

int rnbd_helper_ib_dma_map_sg(struct ib_device *dev, struct scatterlist *sg, int nents,
			      enum dma_data_direction direction)
{
	return ib_dma_map_sg(dev, sg, nents, direction);
}

void rnbd_helper_ib_dma_unmap_sg(struct ib_device *dev, struct scatterlist *sg, int nents,
				 enum dma_data_direction direction)
{
	ib_dma_unmap_sg(dev, sg, nents, direction);
}

void rnbd_helper_ib_dma_sync_single_for_cpu(struct ib_device *dev, u64 addr, size_t size,
					    enum dma_data_direction dir)
{
	ib_dma_sync_single_for_cpu(dev, addr, size, dir);
}

void rnbd_helper_ib_dma_sync_single_for_device(struct ib_device *dev, u64 addr, size_t size,
					       enum dma_data_direction dir)
{
	ib_dma_sync_single_for_device(dev, addr, size, dir);
}

void rnbd_helper_ib_update_fast_reg_key(struct ib_mr *mr, u8 newkey)
{
	ib_update_fast_reg_key(mr, newkey);
}

u32 rnbd_helper_ib_inc_rkey(u32 rkey)
{
	return ib_inc_rkey(rkey);
}

void rnbd_helper_sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
			     unsigned int offset)
{
	sg_set_page(sg, page, len, offset);
}

void rnbd_helper_sg_set_buf(struct scatterlist *sg, const void *buf, unsigned int buflen)
{
	sg_set_buf(sg, buf, buflen);
}

void rnbd_helper_sg_mark_end(struct scatterlist *sg)
{
	sg_mark_end(sg);
}

dma_addr_t rnbd_helper_sg_dma_address(struct scatterlist *sg)
{
	return sg_dma_address(sg);
}

unsigned int rnbd_helper_sg_dma_len(struct scatterlist *sg)
{
	return sg_dma_len(sg);
}
