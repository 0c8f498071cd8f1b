/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inputs for the C inline helpers, included into rnbd_wire_layout().
 * Each VECn() leaves "->VEC <fn> <args...> = <result>" in the assembly;
 * tools/wire/tests/c_layout.rs computes <fn> in Rust for the same
 * arguments and compares. Written once by a throwaway script; edit by hand.
 */
#define VEC1(fn, r, a) asm volatile("\n.ascii \"->VEC " #fn " %c0 = %c1\"" : : \
	"i" ((long long)(a)), "i" ((long long)(r)))
#define VEC2(fn, r, a, b) asm volatile("\n.ascii \"->VEC " #fn " %c0 %c1 = %c2\"" : : \
	"i" ((long long)(a)), "i" ((long long)(b)), "i" ((long long)(r)))
#define VEC3(fn, r, a, b, c) asm volatile("\n.ascii \"->VEC " #fn " %c0 %c1 %c2 = %c3\"" : : \
	"i" ((long long)(a)), "i" ((long long)(b)), "i" ((long long)(c)), "i" ((long long)(r)))

#define TO_IMM(t, p) VEC2(to_imm, rtrs_to_imm(t, p), t, p)
#define FROM_IMM(i) do { VEC1(from_imm_type, FROM_IMM_TYPE(i), i); \
	VEC1(from_imm_payload, FROM_IMM_PAYLOAD(i), i); } while (0)
#define TO_IO_REQ(a) VEC1(to_io_req_imm, rtrs_to_io_req_imm(a), a)
#define TO_IO_RSP(m, e, w) VEC3(to_io_rsp_imm, rtrs_to_io_rsp_imm(m, e, w), m, e, w)
#define FROM_IO_RSP(p) do { VEC1(from_io_rsp_msg_id, FROM_IO_RSP_MSG_ID(p), p); \
	VEC1(from_io_rsp_errno, FROM_IO_RSP_ERRNO(p), p); } while (0)
#define CLOG2(x) VEC1(ceil_log2, CEIL_LOG2(x), x)
/* Client: permit mem_off = buf_id << (28 - chunk_bits), plus the offset. */
#define IO_REQ(qd, id, off) VEC3(io_req_imm, \
	rtrs_to_io_req_imm(((u32)(id) << (MAX_IMM_PAYL_BITS - CEIL_LOG2(qd))) + (off)), qd, id, off)
/* Server: msg_id = payload >> mem_bits, off = payload & ((1 << mem_bits) - 1). */
#define IO_REQ_SPLIT(qd, p) do { \
	VEC2(io_req_msg_id, (u32)(p) >> (MAX_IMM_PAYL_BITS - CEIL_LOG2(qd)), qd, p); \
	VEC2(io_req_off, (u32)(p) & ((1U << (MAX_IMM_PAYL_BITS - CEIL_LOG2(qd))) - 1), qd, p); \
} while (0)
/* The RTRS direction of each operation: rq_data_dir() of the request the
 * C client turns into it (rq_to_rnbd_flags()). */
#define RTRS_DIR(rnbd_op, req_op) VEC1(rnbd_op_is_write, op_is_write(req_op), rnbd_op)
#define RW(rw) do { VEC1(rnbd_op, rnbd_op(rw), rw); VEC1(rnbd_flags, rnbd_flags(rw), rw); } while (0)

TO_IMM(0, 0x0);
TO_IMM(0, 0x5);
TO_IMM(0, 0x281020);
TO_IMM(0, 0xfffffff);
TO_IMM(1, 0x0);
TO_IMM(1, 0x5);
TO_IMM(1, 0x281020);
TO_IMM(1, 0xfffffff);
TO_IMM(2, 0x0);
TO_IMM(2, 0x5);
TO_IMM(2, 0x281020);
TO_IMM(2, 0xfffffff);
TO_IMM(8, 0x0);
TO_IMM(8, 0x5);
TO_IMM(8, 0x281020);
TO_IMM(8, 0xfffffff);
TO_IMM(9, 0x0);
TO_IMM(9, 0x5);
TO_IMM(9, 0x281020);
TO_IMM(9, 0xfffffff);
TO_IMM(15, 0x0);
TO_IMM(15, 0x5);
TO_IMM(15, 0x281020);
TO_IMM(15, 0xfffffff);
TO_IMM(16, 1);
TO_IMM(1, 0x10000005);
TO_IMM(0xffffffff, 0xffffffff);
FROM_IMM(0x0U);
FROM_IMM(0x281020U);
FROM_IMM(0x10000005U);
FROM_IMM(0x10280005U);
FROM_IMM(0x80000000U);
FROM_IMM(0x90000000U);
FROM_IMM(0x2fffffffU);
FROM_IMM(0xffffffffU);
FROM_IMM(0x3000001U);
TO_IO_REQ(0x0U);
TO_IO_REQ(0x1020U);
TO_IO_REQ(0xfffffffU);
TO_IO_REQ(0x10000000U);
TO_IO_REQ(0xffffffffU);
TO_IO_RSP(0, 0, 0);
TO_IO_RSP(0, 0, 1);
TO_IO_RSP(0, -5, 0);
TO_IO_RSP(0, -5, 1);
TO_IO_RSP(0, -104, 0);
TO_IO_RSP(0, -104, 1);
TO_IO_RSP(0, -511, 0);
TO_IO_RSP(0, -511, 1);
TO_IO_RSP(0, -12, 0);
TO_IO_RSP(0, -12, 1);
TO_IO_RSP(0, 5, 0);
TO_IO_RSP(0, 5, 1);
TO_IO_RSP(5, 0, 0);
TO_IO_RSP(5, 0, 1);
TO_IO_RSP(5, -5, 0);
TO_IO_RSP(5, -5, 1);
TO_IO_RSP(5, -104, 0);
TO_IO_RSP(5, -104, 1);
TO_IO_RSP(5, -511, 0);
TO_IO_RSP(5, -511, 1);
TO_IO_RSP(5, -12, 0);
TO_IO_RSP(5, -12, 1);
TO_IO_RSP(5, 5, 0);
TO_IO_RSP(5, 5, 1);
TO_IO_RSP(511, 0, 0);
TO_IO_RSP(511, 0, 1);
TO_IO_RSP(511, -5, 0);
TO_IO_RSP(511, -5, 1);
TO_IO_RSP(511, -104, 0);
TO_IO_RSP(511, -104, 1);
TO_IO_RSP(511, -511, 0);
TO_IO_RSP(511, -511, 1);
TO_IO_RSP(511, -12, 0);
TO_IO_RSP(511, -12, 1);
TO_IO_RSP(511, 5, 0);
TO_IO_RSP(511, 5, 1);
TO_IO_RSP(524287, 0, 0);
TO_IO_RSP(524287, 0, 1);
TO_IO_RSP(524287, -5, 0);
TO_IO_RSP(524287, -5, 1);
TO_IO_RSP(524287, -104, 0);
TO_IO_RSP(524287, -104, 1);
TO_IO_RSP(524287, -511, 0);
TO_IO_RSP(524287, -511, 1);
TO_IO_RSP(524287, -12, 0);
TO_IO_RSP(524287, -12, 1);
TO_IO_RSP(524287, 5, 0);
TO_IO_RSP(524287, 5, 1);
/* Out of range: C masks (Rust refuses to encode these). */
TO_IO_RSP(0x80000, 0, 0);
TO_IO_RSP(0x5, -512, 0);
TO_IO_RSP(0x5, -524, 0);
TO_IO_RSP(0xfffff, -5, 0);
TO_IO_RSP(0x5, -1000, 0);
FROM_IO_RSP(0x0);
FROM_IO_RSP(0x5);
FROM_IO_RSP(0x280005);
FROM_IO_RSP(0xfffffff);
FROM_IO_RSP(0xff80000);
FROM_IO_RSP(0x7ffff);
FROM_IO_RSP(0x80000);
CLOG2(0x0U);
CLOG2(0x1U);
CLOG2(0x2U);
CLOG2(0x3U);
CLOG2(0x4U);
CLOG2(0x5U);
CLOG2(0x7U);
CLOG2(0x8U);
CLOG2(0x9U);
CLOG2(0x10U);
CLOG2(0x11U);
CLOG2(0xffU);
CLOG2(0x100U);
CLOG2(0x101U);
CLOG2(0x1ffU);
CLOG2(0x200U);
CLOG2(0x201U);
CLOG2(0x400U);
CLOG2(0x1000U);
CLOG2(0x2000U);
CLOG2(0xffffU);
CLOG2(0x10000U);
CLOG2(0x20000U);
CLOG2(0x20001U);
CLOG2(0x80000000U);
CLOG2(0x80000001U);
CLOG2(0xffffffffU);
IO_REQ(512, 5, 4128);
IO_REQ(512, 0, 0);
IO_REQ(512, 511, 524287);
IO_REQ(128, 127, 72);
IO_REQ(1, 0, 4096);
IO_REQ(2, 1, 100);
IO_REQ(65535, 65534, 4095);
IO_REQ(1024, 1000, 127012);
IO_REQ(512, 5, 72);
IO_REQ(64, 63, 4194303);
IO_REQ_SPLIT(512, 0x281020);
IO_REQ_SPLIT(512, 0x0);
IO_REQ_SPLIT(512, 0xfffffff);
IO_REQ_SPLIT(1, 0xfffffff);
IO_REQ_SPLIT(2, 0x8000000);
IO_REQ_SPLIT(65535, 0xfffffff);
IO_REQ_SPLIT(128, 0x1234567);
RW(0x0U);
RW(0x1U);
RW(0x2U);
RW(0x3U);
RW(0x4U);
RW(0x5U);
RW(0x100U);
RW(0x101U);
RW(0x301U);
RW(0x302U);
RW(0x200U);
RW(0x6U);
RW(0xffU);
RW(0x400U);
RW(0xffffffffU);
RW(0x12345678U);
RTRS_DIR(RNBD_OP_READ, REQ_OP_READ);
RTRS_DIR(RNBD_OP_WRITE, REQ_OP_WRITE);
RTRS_DIR(RNBD_OP_FLUSH, REQ_OP_FLUSH);
RTRS_DIR(RNBD_OP_DISCARD, REQ_OP_DISCARD);
RTRS_DIR(RNBD_OP_SECURE_ERASE, REQ_OP_SECURE_ERASE);
RTRS_DIR(RNBD_OP_WRITE_ZEROES, REQ_OP_WRITE_ZEROES);
