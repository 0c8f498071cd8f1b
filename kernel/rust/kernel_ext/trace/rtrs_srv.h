/* SPDX-License-Identifier: GPL-2.0+ */
/*
 * The rtrs_srv trace event of upstream's
 * drivers/infiniband/ulp/rtrs/rtrs-srv-trace.h (Linux 6.12), with the
 * values as arguments (see rnbd_srv.h).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM rtrs_srv

#if !defined(_KEXT_TRACE_RTRS_SRV_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KEXT_TRACE_RTRS_SRV_H

#include <linux/tracepoint.h>

/* enum rtrs_srv_state of rtrs-srv.h. */
#define show_rtrs_srv_state(x) \
	__print_symbolic(x, \
		{ 0,	"CONNECTING" }, \
		{ 1,	"CONNECTED" }, \
		{ 2,	"CLOSING" }, \
		{ 3,	"CLOSED" })

TRACE_EVENT(send_io_resp_imm,
	TP_PROTO(const char *sessname, int state, u8 dir, bool need_inval,
		 bool always_invalidate, u32 msg_id, int wr_cnt,
		 u32 signal_interval, int errno),

	TP_ARGS(sessname, state, dir, need_inval, always_invalidate, msg_id,
		wr_cnt, signal_interval, errno),

	TP_STRUCT__entry(
		__field(u8, dir)
		__field(bool, need_inval)
		__field(bool, always_invalidate)
		__field(u32, msg_id)
		__field(int, wr_cnt)
		__field(u32, signal_interval)
		__field(int, state)
		__field(int, errno)
		__array(char, sessname, NAME_MAX)
	),

	TP_fast_assign(
		__entry->dir = dir;
		__entry->state = state;
		__entry->errno = errno;
		__entry->need_inval = need_inval;
		__entry->always_invalidate = always_invalidate;
		__entry->msg_id = msg_id;
		__entry->wr_cnt = wr_cnt;
		__entry->signal_interval = signal_interval;
		/* Upstream memcpy()s NAME_MAX bytes from the shorter name. */
		strscpy_pad(__entry->sessname, sessname, NAME_MAX);
	),

	TP_printk("sess='%s' state='%s' dir=%s err='%d' inval='%d' glob-inval='%d' msgid='%u' wrcnt='%d' sig-interval='%u'",
		   __entry->sessname,
		   show_rtrs_srv_state(__entry->state),
		   __print_symbolic(__entry->dir,
			 { READ,  "READ" },
			 { WRITE, "WRITE" }),
		   __entry->errno,
		   __entry->need_inval,
		   __entry->always_invalidate,
		   __entry->msg_id,
		   __entry->wr_cnt,
		   __entry->signal_interval
	)
);

#endif /* _KEXT_TRACE_RTRS_SRV_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE rtrs_srv
#include <trace/define_trace.h>
