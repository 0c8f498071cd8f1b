// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of the wire-format check (tools/wire/tests/c_layout.rs).
 *
 * Compiled to assembly only, with the kernel's flags, against the patched
 * 6.12 tree (tools/wire/c-layout.sh). Every WL() leaves a line
 *
 *	.ascii "->NAME VALUE"
 *
 * in wire_layout.s, in the style of the kernel's asm-offsets: sizes and
 * field offsets of every RTRS and RNBD wire struct, the protocol constants
 * and enum values, the results of the rtrs-pri.h / rnbd-proto.h inline
 * helpers for chosen inputs, and the byte images of one filled-in message
 * of each struct. The Rust test compares all of them with the Rust
 * definitions.
 */
#include <linux/stddef.h>
#include <linux/log2.h>
#include "rtrs-pri.h"
#include "rnbd-proto.h"

/* A constant as a signed 64-bit decimal. */
#define WL(sym, val) \
	asm volatile("\n.ascii \"->" #sym " %c0\"" : : "i" ((long long)(val)))

#define SIZE(s) WL(SIZEOF__##s, sizeof(struct s))
#define FIELD(s, m) do { \
	WL(OFFSET__##s##__##m, offsetof(struct s, m)); \
	WL(FSIZE__##s##__##m, sizeof(((struct s *)0)->m)); \
} while (0)
#define FIELD2(s, m, sub) do { \
	WL(OFFSET__##s##__##m##__##sub, offsetof(struct s, m.sub)); \
	WL(FSIZE__##s##__##m##__##sub, sizeof(((struct s *)0)->m.sub)); \
} while (0)

/*
 * Byte i of a static object's image: "->IMG__name__i value". Statements for
 * i >= sizeof are dead and dropped. Static storage, so padding is zero.
 */
#define IMG_BYTE(name, obj, i) do { \
	if ((i) < sizeof(obj)) \
		asm volatile("\n.ascii \"->IMG__" #name "__%c0 %c1\"" : : \
			"i" ((long long)(i)), \
			"i" ((long long)((const u8 *)&(obj))[(i) < sizeof(obj) ? (i) : 0])); \
} while (0)
#define IMG8(n, o, b) IMG_BYTE(n, o, (b) + 0); IMG_BYTE(n, o, (b) + 1); \
	IMG_BYTE(n, o, (b) + 2); IMG_BYTE(n, o, (b) + 3); \
	IMG_BYTE(n, o, (b) + 4); IMG_BYTE(n, o, (b) + 5); \
	IMG_BYTE(n, o, (b) + 6); IMG_BYTE(n, o, (b) + 7)
#define IMG64(n, o, b) IMG8(n, o, (b) + 0); IMG8(n, o, (b) + 8); \
	IMG8(n, o, (b) + 16); IMG8(n, o, (b) + 24); \
	IMG8(n, o, (b) + 32); IMG8(n, o, (b) + 40); \
	IMG8(n, o, (b) + 48); IMG8(n, o, (b) + 56)
#define IMG(n, o) do { \
	BUILD_BUG_ON(sizeof(o) > 320); \
	IMG64(n, o, 0); IMG64(n, o, 64); IMG64(n, o, 128); \
	IMG64(n, o, 192); IMG64(n, o, 256); \
} while (0)

/* The messages of the byte-image check; the Rust test builds the same. */
static const struct rtrs_msg_conn_req img_conn_req = {
	.magic = cpu_to_le16(RTRS_MAGIC),
	.version = cpu_to_le16(RTRS_PROTO_VER),
	.cid = cpu_to_le16(0x0102),
	.cid_num = cpu_to_le16(0x0f03),
	.recon_cnt = cpu_to_le16(0xa1b2),
	.sess_uuid = { .b = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
			      0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f } },
	.paths_uuid = { .b = { 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
			       0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f } },
	.first_conn = 1,
};

static const struct rtrs_msg_conn_rsp img_conn_rsp = {
	.magic = cpu_to_le16(RTRS_MAGIC),
	.version = cpu_to_le16(RTRS_PROTO_VER),
	.queue_depth = cpu_to_le16(512),
	.max_io_size = cpu_to_le32(131072 - 4096),
	.max_hdr_size = cpu_to_le32(4096),
	.flags = cpu_to_le32(RTRS_MSG_NEW_RKEY_F),
};

/* As rtrs_rdma_do_reject() fills it. */
static const struct rtrs_msg_conn_rsp img_conn_rej = {
	.magic = cpu_to_le16(RTRS_MAGIC),
	.version = cpu_to_le16(RTRS_PROTO_VER),
	.errno = cpu_to_le16(-ECONNRESET),
};

static const struct rtrs_msg_info_req img_info_req = {
	.type = cpu_to_le16(RTRS_MSG_INFO_REQ),
	.pathname = "client1_sess",
};

static const struct rtrs_msg_info_rsp img_info_rsp = {
	.type = cpu_to_le16(RTRS_MSG_INFO_RSP),
	.sg_cnt = cpu_to_le16(2),
};

static const struct rtrs_sg_desc img_sg_desc = {
	.addr = cpu_to_le64(0x0102030405060708ULL),
	.key = cpu_to_le32(0x11223344),
	.len = cpu_to_le32(0x00020000),
};

static const struct rtrs_msg_rkey_rsp img_rkey_rsp = {
	.type = cpu_to_le16(RTRS_MSG_RKEY_RSP),
	.buf_id = cpu_to_le16(0x01ff),
	.rkey = cpu_to_le32(0xdeadbeef),
};

static const struct rtrs_msg_rdma_read img_rdma_read = {
	.type = cpu_to_le16(RTRS_MSG_READ),
	.usr_len = cpu_to_le16(0x0024),
	.flags = cpu_to_le16(RTRS_MSG_NEED_INVAL_F),
	.sg_cnt = cpu_to_le16(1),
};

static const struct rtrs_msg_rdma_write img_rdma_write = {
	.type = cpu_to_le16(RTRS_MSG_WRITE),
	.usr_len = cpu_to_le16(0x0108),
};

static const struct rnbd_msg_hdr img_rnbd_hdr = {
	.type = cpu_to_le16(RNBD_MSG_IO),
};

static const struct rnbd_msg_sess_info img_sess_info = {
	.hdr.type = cpu_to_le16(RNBD_MSG_SESS_INFO),
	.ver = RNBD_PROTO_VER_MAJOR,
};

static const struct rnbd_msg_sess_info_rsp img_sess_info_rsp = {
	.hdr.type = cpu_to_le16(RNBD_MSG_SESS_INFO_RSP),
	.ver = RNBD_PROTO_VER_MAJOR,
};

static const struct rnbd_msg_open img_open = {
	.hdr.type = cpu_to_le16(RNBD_MSG_OPEN),
	.access_mode = RNBD_ACCESS_MIGRATION,
	.dev_name = "nullb0",
};

static const struct rnbd_msg_open_rsp img_open_rsp = {
	.hdr.type = cpu_to_le16(RNBD_MSG_OPEN_RSP),
	.device_id = cpu_to_le32(0x01020304),
	.nsectors = cpu_to_le64(0x1112131415161718ULL),
	.max_hw_sectors = cpu_to_le32(0x21222324),
	.max_write_zeroes_sectors = cpu_to_le32(0x31323334),
	.max_discard_sectors = cpu_to_le32(0x41424344),
	.discard_granularity = cpu_to_le32(0x51525354),
	.discard_alignment = cpu_to_le32(0x61626364),
	.physical_block_size = cpu_to_le16(0x7172),
	.logical_block_size = cpu_to_le16(0x8182),
	.max_segments = cpu_to_le16(0x9192),
	.secure_discard = cpu_to_le16(0xa1a2),
	.cache_policy = RNBD_FUA | RNBD_WRITEBACK,
};

static const struct rnbd_msg_close img_close = {
	.hdr.type = cpu_to_le16(RNBD_MSG_CLOSE),
	.device_id = cpu_to_le32(0xc1c2c3c4),
};

static const struct rnbd_msg_io img_io = {
	.hdr.type = cpu_to_le16(RNBD_MSG_IO),
	.device_id = cpu_to_le32(7),
	.sector = cpu_to_le64(0x0102030405060708ULL),
	.rw = cpu_to_le32(RNBD_OP_WRITE | RNBD_F_SYNC | RNBD_F_FUA),
	.bi_size = cpu_to_le32(4096),
	.prio = cpu_to_le16(0x6004),
};

/* The C client's rtrs_from_io_rsp_imm(), as a value. */
#define FROM_IO_RSP_MSG_ID(p) ({ u32 m; int e; rtrs_from_io_rsp_imm(p, &m, &e); m; })
#define FROM_IO_RSP_ERRNO(p) ({ u32 m; int e; rtrs_from_io_rsp_imm(p, &m, &e); e; })
#define FROM_IMM_TYPE(i) ({ u32 t, p; rtrs_from_imm(i, &t, &p); t; })
#define FROM_IMM_PAYLOAD(i) ({ u32 t, p; rtrs_from_imm(i, &t, &p); p; })
/* ilog2(x - 1) + 1 at run time, as the C code computes chunk_bits. */
#define CEIL_LOG2(x) (__ilog2_u32((u32)(x) - 1) + 1)

void rnbd_wire_layout(void);
void rnbd_wire_layout(void)
{
	/* rtrs-pri.h structs */
	SIZE(rtrs_sg_desc);
	FIELD(rtrs_sg_desc, addr);
	FIELD(rtrs_sg_desc, key);
	FIELD(rtrs_sg_desc, len);

	SIZE(rtrs_msg_conn_req);
	FIELD(rtrs_msg_conn_req, __cma_version);
	FIELD(rtrs_msg_conn_req, __ip_version);
	FIELD(rtrs_msg_conn_req, magic);
	FIELD(rtrs_msg_conn_req, version);
	FIELD(rtrs_msg_conn_req, cid);
	FIELD(rtrs_msg_conn_req, cid_num);
	FIELD(rtrs_msg_conn_req, recon_cnt);
	FIELD(rtrs_msg_conn_req, sess_uuid);
	FIELD(rtrs_msg_conn_req, paths_uuid);
	FIELD(rtrs_msg_conn_req, reserved);
	/* first_conn/reserved_bits: a bit-field has no offsetof; the byte
	 * before reserved[] holds them, first_conn in the bit this sets. */
	WL(OFFSET__rtrs_msg_conn_req__first_conn, offsetof(struct rtrs_msg_conn_req, reserved) - 1);
	WL(FSIZE__rtrs_msg_conn_req__first_conn, 1);
	WL(CONN_REQ_FIRST_CONN_BIT,
	   ((const u8 *)&img_conn_req)[offsetof(struct rtrs_msg_conn_req, reserved) - 1]);

	SIZE(rtrs_msg_conn_rsp);
	FIELD(rtrs_msg_conn_rsp, magic);
	FIELD(rtrs_msg_conn_rsp, version);
	FIELD(rtrs_msg_conn_rsp, errno);
	FIELD(rtrs_msg_conn_rsp, queue_depth);
	FIELD(rtrs_msg_conn_rsp, max_io_size);
	FIELD(rtrs_msg_conn_rsp, max_hdr_size);
	FIELD(rtrs_msg_conn_rsp, flags);
	FIELD(rtrs_msg_conn_rsp, reserved);

	SIZE(rtrs_msg_info_req);
	FIELD(rtrs_msg_info_req, type);
	FIELD(rtrs_msg_info_req, pathname);
	FIELD(rtrs_msg_info_req, reserved);

	SIZE(rtrs_msg_info_rsp);
	FIELD(rtrs_msg_info_rsp, type);
	FIELD(rtrs_msg_info_rsp, sg_cnt);
	FIELD(rtrs_msg_info_rsp, reserved);
	WL(OFFSET__rtrs_msg_info_rsp__desc, offsetof(struct rtrs_msg_info_rsp, desc));

	SIZE(rtrs_msg_rkey_rsp);
	FIELD(rtrs_msg_rkey_rsp, type);
	FIELD(rtrs_msg_rkey_rsp, buf_id);
	FIELD(rtrs_msg_rkey_rsp, rkey);

	SIZE(rtrs_msg_rdma_read);
	FIELD(rtrs_msg_rdma_read, type);
	FIELD(rtrs_msg_rdma_read, usr_len);
	FIELD(rtrs_msg_rdma_read, flags);
	FIELD(rtrs_msg_rdma_read, sg_cnt);
	WL(OFFSET__rtrs_msg_rdma_read__desc, offsetof(struct rtrs_msg_rdma_read, desc));

	SIZE(rtrs_msg_rdma_write);
	FIELD(rtrs_msg_rdma_write, type);
	FIELD(rtrs_msg_rdma_write, usr_len);

	SIZE(rtrs_msg_rdma_hdr);
	FIELD(rtrs_msg_rdma_hdr, type);

	/* rnbd-proto.h structs */
	SIZE(rnbd_msg_hdr);
	FIELD(rnbd_msg_hdr, type);
	FIELD(rnbd_msg_hdr, __padding);

	SIZE(rnbd_msg_sess_info);
	FIELD(rnbd_msg_sess_info, hdr);
	FIELD(rnbd_msg_sess_info, ver);
	FIELD(rnbd_msg_sess_info, reserved);

	SIZE(rnbd_msg_sess_info_rsp);
	FIELD(rnbd_msg_sess_info_rsp, hdr);
	FIELD(rnbd_msg_sess_info_rsp, ver);
	FIELD(rnbd_msg_sess_info_rsp, reserved);

	SIZE(rnbd_msg_open);
	FIELD(rnbd_msg_open, hdr);
	FIELD2(rnbd_msg_open, hdr, type);
	FIELD(rnbd_msg_open, access_mode);
	FIELD(rnbd_msg_open, resv1);
	FIELD(rnbd_msg_open, dev_name);
	FIELD(rnbd_msg_open, reserved);

	SIZE(rnbd_msg_close);
	FIELD(rnbd_msg_close, hdr);
	FIELD(rnbd_msg_close, device_id);

	SIZE(rnbd_msg_open_rsp);
	FIELD(rnbd_msg_open_rsp, hdr);
	FIELD(rnbd_msg_open_rsp, device_id);
	FIELD(rnbd_msg_open_rsp, nsectors);
	FIELD(rnbd_msg_open_rsp, max_hw_sectors);
	FIELD(rnbd_msg_open_rsp, max_write_zeroes_sectors);
	FIELD(rnbd_msg_open_rsp, max_discard_sectors);
	FIELD(rnbd_msg_open_rsp, discard_granularity);
	FIELD(rnbd_msg_open_rsp, discard_alignment);
	FIELD(rnbd_msg_open_rsp, physical_block_size);
	FIELD(rnbd_msg_open_rsp, logical_block_size);
	FIELD(rnbd_msg_open_rsp, max_segments);
	FIELD(rnbd_msg_open_rsp, secure_discard);
	FIELD(rnbd_msg_open_rsp, obsolete_rotational);
	FIELD(rnbd_msg_open_rsp, cache_policy);
	FIELD(rnbd_msg_open_rsp, reserved);

	SIZE(rnbd_msg_io);
	FIELD(rnbd_msg_io, hdr);
	FIELD(rnbd_msg_io, device_id);
	FIELD(rnbd_msg_io, sector);
	FIELD(rnbd_msg_io, rw);
	FIELD(rnbd_msg_io, bi_size);
	FIELD(rnbd_msg_io, prio);

	/* Constants and enums */
	WL(RTRS_PROTO_VER_MAJOR, RTRS_PROTO_VER_MAJOR);
	WL(RTRS_PROTO_VER_MINOR, RTRS_PROTO_VER_MINOR);
	WL(RTRS_PROTO_VER, RTRS_PROTO_VER);
	WL(RTRS_MAGIC, RTRS_MAGIC);
	WL(MAX_SESS_QUEUE_DEPTH, MAX_SESS_QUEUE_DEPTH);
	WL(SERVICE_CON_QUEUE_DEPTH, SERVICE_CON_QUEUE_DEPTH);
	WL(MAX_PATHS_NUM, MAX_PATHS_NUM);
	WL(MIN_CHUNK_SIZE, MIN_CHUNK_SIZE);
	WL(RTRS_HB_INTERVAL_MS, RTRS_HB_INTERVAL_MS);
	WL(RTRS_HB_MISSED_MAX, RTRS_HB_MISSED_MAX);
	WL(NAME_MAX, NAME_MAX);
	WL(MAX_IMM_TYPE_BITS, MAX_IMM_TYPE_BITS);
	WL(MAX_IMM_TYPE_MASK, MAX_IMM_TYPE_MASK);
	WL(MAX_IMM_PAYL_BITS, MAX_IMM_PAYL_BITS);
	WL(MAX_IMM_PAYL_MASK, MAX_IMM_PAYL_MASK);
	WL(RTRS_IO_REQ_IMM, RTRS_IO_REQ_IMM);
	WL(RTRS_IO_RSP_IMM, RTRS_IO_RSP_IMM);
	WL(RTRS_IO_RSP_W_INV_IMM, RTRS_IO_RSP_W_INV_IMM);
	WL(RTRS_HB_MSG_IMM, RTRS_HB_MSG_IMM);
	WL(RTRS_HB_ACK_IMM, RTRS_HB_ACK_IMM);
	WL(RTRS_LAST_IMM, RTRS_LAST_IMM);
	WL(RTRS_MSG_INFO_REQ, RTRS_MSG_INFO_REQ);
	WL(RTRS_MSG_INFO_RSP, RTRS_MSG_INFO_RSP);
	WL(RTRS_MSG_WRITE, RTRS_MSG_WRITE);
	WL(RTRS_MSG_READ, RTRS_MSG_READ);
	WL(RTRS_MSG_RKEY_RSP, RTRS_MSG_RKEY_RSP);
	WL(RTRS_MSG_NEED_INVAL_F, RTRS_MSG_NEED_INVAL_F);
	WL(RTRS_MSG_NEW_RKEY_F, RTRS_MSG_NEW_RKEY_F);

	WL(RNBD_PROTO_VER_MAJOR, RNBD_PROTO_VER_MAJOR);
	WL(RNBD_PROTO_VER_MINOR, RNBD_PROTO_VER_MINOR);
	WL(RTRS_PORT, RTRS_PORT);
	WL(RNBD_MSG_SESS_INFO, RNBD_MSG_SESS_INFO);
	WL(RNBD_MSG_SESS_INFO_RSP, RNBD_MSG_SESS_INFO_RSP);
	WL(RNBD_MSG_OPEN, RNBD_MSG_OPEN);
	WL(RNBD_MSG_OPEN_RSP, RNBD_MSG_OPEN_RSP);
	WL(RNBD_MSG_IO, RNBD_MSG_IO);
	WL(RNBD_MSG_CLOSE, RNBD_MSG_CLOSE);
	WL(RNBD_ACCESS_RO, RNBD_ACCESS_RO);
	WL(RNBD_ACCESS_RW, RNBD_ACCESS_RW);
	WL(RNBD_ACCESS_MIGRATION, RNBD_ACCESS_MIGRATION);
	WL(RNBD_FUA, RNBD_FUA);
	WL(RNBD_WRITEBACK, RNBD_WRITEBACK);
	WL(RNBD_OP_BITS, RNBD_OP_BITS);
	WL(RNBD_OP_MASK, RNBD_OP_MASK);
	WL(RNBD_OP_READ, RNBD_OP_READ);
	WL(RNBD_OP_WRITE, RNBD_OP_WRITE);
	WL(RNBD_OP_FLUSH, RNBD_OP_FLUSH);
	WL(RNBD_OP_DISCARD, RNBD_OP_DISCARD);
	WL(RNBD_OP_SECURE_ERASE, RNBD_OP_SECURE_ERASE);
	WL(RNBD_OP_WRITE_ZEROES, RNBD_OP_WRITE_ZEROES);
	WL(RNBD_F_SYNC, RNBD_F_SYNC);
	WL(RNBD_F_FUA, RNBD_F_FUA);

	/* The inline helpers, for chosen inputs (tests/c_layout.rs has the
	 * same list). */
#include "wire_vectors.h"

	/* Byte images */
	IMG(rtrs_msg_conn_req, img_conn_req);
	IMG(rtrs_msg_conn_rsp, img_conn_rsp);
	IMG(rtrs_msg_conn_rsp_reject, img_conn_rej);
	IMG(rtrs_msg_info_req, img_info_req);
	IMG(rtrs_msg_info_rsp, img_info_rsp);
	IMG(rtrs_sg_desc, img_sg_desc);
	IMG(rtrs_msg_rkey_rsp, img_rkey_rsp);
	IMG(rtrs_msg_rdma_read, img_rdma_read);
	IMG(rtrs_msg_rdma_write, img_rdma_write);
	IMG(rnbd_msg_hdr, img_rnbd_hdr);
	IMG(rnbd_msg_sess_info, img_sess_info);
	IMG(rnbd_msg_sess_info_rsp, img_sess_info_rsp);
	IMG(rnbd_msg_open, img_open);
	IMG(rnbd_msg_open_rsp, img_open_rsp);
	IMG(rnbd_msg_close, img_close);
	IMG(rnbd_msg_io, img_io);
}
