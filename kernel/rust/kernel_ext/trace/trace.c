// SPDX-License-Identifier: GPL-2.0
/*
 * The trace events of one module, as functions for Rust (6.12's Rust
 * support can call a tracepoint that C declares, but cannot define one:
 * TRACE_EVENT is a C macro that generates the event's code, its tracefs
 * format and its registration). The module's kext_helpers.c defines
 * KEXT_TRACE_SERVER (rnbd_srv and rtrs_srv events) or KEXT_TRACE_CLIENT
 * (rtrs_clt events), or KEXT_TRACE_CLIENT_DISABLED (a test module that
 * compiles the RTRS client without owning its events: they do nothing),
 * and includes this file; kext.mk puts this folder on
 * the include path for define_trace.h. Each function is a static-key test
 * and, only while the event is enabled, the record.
 */
/* After bindings/helpers.c, which includes kext_bindings.h (the prototypes). */
#include "../bindings/kext_bindings.h"

#define CREATE_TRACE_POINTS

#ifdef KEXT_TRACE_SERVER
#include "rnbd_srv.h"
#include "rtrs_srv.h"

void rnbd_trace_create_sess(const char *sessname, int qdepth)
{
	trace_create_sess(sessname, qdepth);
}

void rnbd_trace_destroy_sess(const char *sessname, int qdepth)
{
	trace_destroy_sess(sessname, qdepth);
}

void rnbd_trace_process_rdma(const char *sessname, u8 dir, u8 ver, u32 device_id, u64 sector,
			     u32 flags, u32 bi_size, u16 ioprio, u32 datalen, size_t usrlen)
{
	trace_process_rdma(sessname, dir, ver, device_id, sector, flags, bi_size, ioprio,
			   datalen, usrlen);
}

void rnbd_trace_process_msg_sess_info(const char *sessname, u8 proto_ver, u8 clt_ver,
				      u8 srv_ver)
{
	trace_process_msg_sess_info(sessname, proto_ver, clt_ver, srv_ver);
}

void rnbd_trace_process_msg_open(const char *sessname, const char *dev_name, u8 access_mode)
{
	trace_process_msg_open(sessname, dev_name, access_mode);
}

void rnbd_trace_process_msg_close(const char *sessname, u32 device_id)
{
	trace_process_msg_close(sessname, device_id);
}

bool rnbd_trace_send_io_resp_imm_enabled(void)
{
	return trace_send_io_resp_imm_enabled();
}

void rnbd_trace_send_io_resp_imm(const char *sessname, int state, u8 dir, bool need_inval,
				 bool always_invalidate, u32 msg_id, int wr_cnt,
				 u32 signal_interval, int errno)
{
	trace_send_io_resp_imm(sessname, state, dir, need_inval, always_invalidate, msg_id,
			       wr_cnt, signal_interval, errno);
}
#endif

#ifdef KEXT_TRACE_CLIENT
#include "rtrs_clt.h"

void rnbd_trace_rtrs_clt_reconnect_work(const char *sessname, int state, int attempts,
					int max_attempts, int fail_cnt, int success_cnt)
{
	trace_rtrs_clt_reconnect_work(sessname, state, attempts, max_attempts, fail_cnt,
				      success_cnt);
}

void rnbd_trace_rtrs_clt_close_conns(const char *sessname, int state, int attempts,
				     int max_attempts, int fail_cnt, int success_cnt)
{
	trace_rtrs_clt_close_conns(sessname, state, attempts, max_attempts, fail_cnt,
				   success_cnt);
}

void rnbd_trace_rtrs_rdma_error_recovery(const char *sessname, int state, int attempts,
					 int max_attempts, int fail_cnt, int success_cnt)
{
	trace_rtrs_rdma_error_recovery(sessname, state, attempts, max_attempts, fail_cnt,
				       success_cnt);
}
#endif

#ifdef KEXT_TRACE_CLIENT_DISABLED
void rnbd_trace_rtrs_clt_reconnect_work(const char *sessname, int state, int attempts,
					int max_attempts, int fail_cnt, int success_cnt)
{
}

void rnbd_trace_rtrs_clt_close_conns(const char *sessname, int state, int attempts,
				     int max_attempts, int fail_cnt, int success_cnt)
{
}

void rnbd_trace_rtrs_rdma_error_recovery(const char *sessname, int state, int attempts,
					 int max_attempts, int fail_cnt, int success_cnt)
{
}
#endif
