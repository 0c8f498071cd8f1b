/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What kernel_ext needs from C beyond the `kernel` crate's own bindings
 * (rust/bindings/bindings_helper.h of a vanilla 6.12): the RDMA verbs and
 * CM, the block-layer inlines, a few constants bindgen cannot evaluate.
 *
 * The project's Kbuild (kernel/rust/kernel_ext/kext.mk) runs bindgen on
 * this header with the kernel's own flags, for the items not already in
 * `kernel::bindings` (those are blocklisted, so the types stay the
 * kernel's), and compiles helpers.c into every module: no kernel patch.
 */
#ifndef _KEXT_BINDINGS_H
#define _KEXT_BINDINGS_H

#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/hdreg.h>
#include <linux/inet.h>
#include <linux/scatterlist.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>

/* Static inlines and macros, as functions (helpers.c). */
struct bio *rnbd_helper_bio_alloc(struct block_device *bdev, unsigned short nr_vecs,
				  blk_opf_t opf, gfp_t gfp_mask);
sector_t rnbd_helper_bdev_nr_sectors(struct block_device *bdev);
unsigned int rnbd_helper_bdev_logical_block_size(struct block_device *bdev);
unsigned int rnbd_helper_bdev_physical_block_size(struct block_device *bdev);
unsigned int rnbd_helper_bdev_max_discard_sectors(struct block_device *bdev);
unsigned int rnbd_helper_bdev_discard_granularity(struct block_device *bdev);
unsigned int rnbd_helper_bdev_write_zeroes_sectors(struct block_device *bdev);
unsigned int rnbd_helper_bdev_max_secure_erase_sectors(struct block_device *bdev);
unsigned short rnbd_helper_bdev_max_segments(struct block_device *bdev);
unsigned int rnbd_helper_bdev_max_hw_sectors(struct block_device *bdev);
bool rnbd_helper_bdev_write_cache(struct block_device *bdev);
bool rnbd_helper_bdev_fua(struct block_device *bdev);
sector_t rnbd_helper_blk_rq_pos(const struct request *rq);
unsigned int rnbd_helper_blk_rq_bytes(const struct request *rq);
unsigned short rnbd_helper_blk_rq_nr_phys_segments(struct request *rq);
enum req_op rnbd_helper_req_op(const struct request *rq);
void rnbd_helper_set_geometry(struct hd_geometry *geo, unsigned short cylinders,
			      unsigned char heads, unsigned char sectors);
int rnbd_helper_blk_rq_map_sg(struct request_queue *q, struct request *rq,
			      struct scatterlist *sglist);

int rnbd_helper_ib_post_send(struct ib_qp *qp, const struct ib_send_wr *send_wr,
			     const struct ib_send_wr **bad_send_wr);
int rnbd_helper_ib_post_recv(struct ib_qp *qp, const struct ib_recv_wr *recv_wr,
			     const struct ib_recv_wr **bad_recv_wr);
int rnbd_helper_ib_req_notify_cq(struct ib_cq *cq, enum ib_cq_notify_flags flags);
int rnbd_helper_ib_dma_mapping_error(struct ib_device *dev, u64 dma_addr);
u64 rnbd_helper_ib_dma_map_single(struct ib_device *dev, void *cpu_addr, size_t size,
				  enum dma_data_direction direction);
void rnbd_helper_ib_dma_unmap_single(struct ib_device *dev, u64 addr, size_t size,
				     enum dma_data_direction direction);
int rnbd_helper_ib_dma_map_sg(struct ib_device *dev, struct scatterlist *sg, int nents,
			      enum dma_data_direction direction);
void rnbd_helper_ib_dma_unmap_sg(struct ib_device *dev, struct scatterlist *sg, int nents,
				 enum dma_data_direction direction);
void rnbd_helper_ib_dma_sync_single_for_cpu(struct ib_device *dev, u64 addr, size_t size,
					    enum dma_data_direction dir);
void rnbd_helper_ib_dma_sync_single_for_device(struct ib_device *dev, u64 addr, size_t size,
					       enum dma_data_direction dir);
void rnbd_helper_ib_update_fast_reg_key(struct ib_mr *mr, u8 newkey);
u32 rnbd_helper_ib_inc_rkey(u32 rkey);
void rnbd_helper_sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
			     unsigned int offset);
void rnbd_helper_sg_set_buf(struct scatterlist *sg, const void *buf, unsigned int buflen);
void rnbd_helper_sg_mark_end(struct scatterlist *sg);
dma_addr_t rnbd_helper_sg_dma_address(struct scatterlist *sg);
unsigned int rnbd_helper_sg_dma_len(struct scatterlist *sg);

#ifdef __BINDGEN__
/* Macros of a type bindgen cannot evaluate (as the kernel's RUST_CONST_HELPER_). */
const blk_features_t RNBD_CONST_HELPER_BLK_FEAT_WRITE_CACHE = BLK_FEAT_WRITE_CACHE;
const blk_features_t RNBD_CONST_HELPER_BLK_FEAT_FUA = BLK_FEAT_FUA;
const blk_opf_t RNBD_CONST_HELPER_REQ_FUA = REQ_FUA;
const blk_opf_t RNBD_CONST_HELPER_REQ_PREFLUSH = REQ_PREFLUSH;
const blk_opf_t RNBD_CONST_HELPER_REQ_SYNC = REQ_SYNC;
const blk_opf_t RNBD_CONST_HELPER_REQ_NOUNMAP = REQ_NOUNMAP;
const blk_mode_t RNBD_CONST_HELPER_BLK_OPEN_READ = BLK_OPEN_READ;
const blk_mode_t RNBD_CONST_HELPER_BLK_OPEN_WRITE = BLK_OPEN_WRITE;
const blk_mode_t RNBD_CONST_HELPER_BLK_OPEN_EXCL = BLK_OPEN_EXCL;
#endif

/*
 * Trace events (trace/trace.c): defined in the module whose kext_helpers.c
 * asks for them (server: rnbd_srv, rtrs_srv; client: rtrs_clt); the safe
 * wrappers in trace.rs are #[inline], so a module references only its own.
 */
void rnbd_trace_create_sess(const char *sessname, int qdepth);
void rnbd_trace_destroy_sess(const char *sessname, int qdepth);
void rnbd_trace_process_rdma(const char *sessname, u8 dir, u8 ver, u32 device_id, u64 sector,
			     u32 flags, u32 bi_size, u16 ioprio, u32 datalen, size_t usrlen);
void rnbd_trace_process_msg_sess_info(const char *sessname, u8 proto_ver, u8 clt_ver,
				      u8 srv_ver);
void rnbd_trace_process_msg_open(const char *sessname, const char *dev_name, u8 access_mode);
void rnbd_trace_process_msg_close(const char *sessname, u32 device_id);
bool rnbd_trace_send_io_resp_imm_enabled(void);
void rnbd_trace_send_io_resp_imm(const char *sessname, int state, u8 dir, bool need_inval,
				 bool always_invalidate, u32 msg_id, int wr_cnt,
				 u32 signal_interval, int errno);
void rnbd_trace_rtrs_clt_reconnect_work(const char *sessname, int state, int attempts,
					int max_attempts, int fail_cnt, int success_cnt);
void rnbd_trace_rtrs_clt_close_conns(const char *sessname, int state, int attempts,
				     int max_attempts, int fail_cnt, int success_cnt);
void rnbd_trace_rtrs_rdma_error_recovery(const char *sessname, int state, int attempts,
					 int max_attempts, int fail_cnt, int success_cnt);

#endif /* _KEXT_BINDINGS_H */
