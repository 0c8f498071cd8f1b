/* SPDX-License-Identifier: GPL-2.0+ */
/*
 * The rtrs_clt trace events of upstream's
 * drivers/infiniband/ulp/rtrs/rtrs-clt-trace.h (Linux 6.12), with the
 * values as arguments (see rnbd_srv.h).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM rtrs_clt

#if !defined(_KEXT_TRACE_RTRS_CLT_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KEXT_TRACE_RTRS_CLT_H

#include <linux/tracepoint.h>

/* enum rtrs_clt_state of rtrs-clt.h. */
#define show_rtrs_clt_state(x) \
	__print_symbolic(x, \
		{ 0,	"CONNECTING" }, \
		{ 1,	"CONNECTING_ERR" }, \
		{ 2,	"RECONNECTING" }, \
		{ 3,	"CONNECTED" }, \
		{ 4,	"CLOSING" }, \
		{ 5,	"CLOSED" }, \
		{ 6,	"DEAD" })

DECLARE_EVENT_CLASS(rtrs_clt_conn_class,
	TP_PROTO(const char *sessname, int state, int reconnect_attempts,
		 int max_reconnect_attempts, int fail_cnt, int success_cnt),

	TP_ARGS(sessname, state, reconnect_attempts, max_reconnect_attempts,
		fail_cnt, success_cnt),

	TP_STRUCT__entry(
		__field(int, state)
		__field(int, reconnect_attempts)
		__field(int, max_reconnect_attempts)
		__field(int, fail_cnt)
		__field(int, success_cnt)
		__array(char, sessname, NAME_MAX)
	),

	TP_fast_assign(
		__entry->state = state;
		__entry->reconnect_attempts = reconnect_attempts;
		__entry->max_reconnect_attempts = max_reconnect_attempts;
		__entry->fail_cnt = fail_cnt;
		__entry->success_cnt = success_cnt;
		/* Upstream memcpy()s NAME_MAX bytes from the shorter name. */
		strscpy_pad(__entry->sessname, sessname, NAME_MAX);
	),

	TP_printk("RTRS-CLT: sess='%s' state=%s attempts='%d' max-attempts='%d' fail='%d' success='%d'",
		   __entry->sessname,
		   show_rtrs_clt_state(__entry->state),
		   __entry->reconnect_attempts,
		   __entry->max_reconnect_attempts,
		   __entry->fail_cnt,
		   __entry->success_cnt
	)
);

#define DEFINE_CLT_CONN_EVENT(name) \
DEFINE_EVENT(rtrs_clt_conn_class, rtrs_##name, \
	TP_PROTO(const char *sessname, int state, int reconnect_attempts, \
		 int max_reconnect_attempts, int fail_cnt, int success_cnt), \
	TP_ARGS(sessname, state, reconnect_attempts, max_reconnect_attempts, \
		fail_cnt, success_cnt))

DEFINE_CLT_CONN_EVENT(clt_reconnect_work);
DEFINE_CLT_CONN_EVENT(clt_close_conns);
DEFINE_CLT_CONN_EVENT(rdma_error_recovery);

#endif /* _KEXT_TRACE_RTRS_CLT_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE rtrs_clt
#include <trace/define_trace.h>
