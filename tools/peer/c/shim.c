// SPDX-License-Identifier: GPL-2.0
/*
 * Thin C shim over libibverbs and librdmacm for tools/peer (rnbd-peer).
 *
 * ibv_post_send/ibv_post_recv/ibv_poll_cq/ibv_req_notify_cq are static
 * inlines calling through qp->context->ops, and the work-request, work
 * completion and CM event structs are large unions: wrapping them here
 * keeps every struct layout on the C side. Rust (src/ffi.rs) sees only
 * opaque pointers and the flat types below. Errors are returned as
 * negative errnos.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

static int set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return neg_errno();
	return 0;
}

/* ---- rdma_cm ---- */

struct rdma_event_channel *shim_create_event_channel(int *err)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();

	if (!ch) {
		*err = neg_errno();
		return NULL;
	}
	*err = set_nonblock(ch->fd);
	if (*err) {
		rdma_destroy_event_channel(ch);
		return NULL;
	}
	return ch;
}

void shim_destroy_event_channel(struct rdma_event_channel *ch)
{
	rdma_destroy_event_channel(ch);
}

int shim_event_channel_fd(struct rdma_event_channel *ch)
{
	return ch->fd;
}

int shim_create_id(struct rdma_event_channel *ch, struct rdma_cm_id **id, uintptr_t ctx)
{
	return rdma_create_id(ch, id, (void *)ctx, RDMA_PS_TCP) ? neg_errno() : 0;
}

int shim_destroy_id(struct rdma_cm_id *id)
{
	return rdma_destroy_id(id) ? neg_errno() : 0;
}

/* Resolves "host" (IPv4 or IPv6 literal or name) and port. */
int shim_resolve_addr(struct rdma_cm_id *id, const char *host, uint16_t port, int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char portstr[8];
	int ret;

	snprintf(portstr, sizeof(portstr), "%u", port);
	ret = getaddrinfo(host, portstr, &hints, &res);
	if (ret)
		return -EHOSTUNREACH;
	ret = rdma_resolve_addr(id, NULL, res->ai_addr, timeout_ms) ? neg_errno() : 0;
	freeaddrinfo(res);
	return ret;
}

int shim_resolve_route(struct rdma_cm_id *id, int timeout_ms)
{
	return rdma_resolve_route(id, timeout_ms) ? neg_errno() : 0;
}

struct ibv_context *shim_id_verbs(struct rdma_cm_id *id)
{
	return id->verbs;
}

struct ibv_qp *shim_create_qp(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_cq *cq,
			      uint32_t max_send_wr, uint32_t max_recv_wr, uint32_t *qp_num)
{
	struct ibv_qp_init_attr attr = {
		.send_cq = cq,
		.recv_cq = cq,
		.qp_type = IBV_QPT_RC,
		.sq_sig_all = 0,
		.cap = {
			.max_send_wr = max_send_wr,
			.max_recv_wr = max_recv_wr,
			.max_send_sge = 1,
			.max_recv_sge = 1,
		},
	};

	if (rdma_create_qp(id, pd, &attr))
		return NULL;
	*qp_num = id->qp->qp_num;
	return id->qp;
}

void shim_destroy_qp(struct rdma_cm_id *id)
{
	rdma_destroy_qp(id);
}

int shim_connect(struct rdma_cm_id *id, const void *pdata, uint8_t pdata_len)
{
	struct rdma_conn_param p = {
		.private_data = pdata,
		.private_data_len = pdata_len,
		.responder_resources = 0,
		.initiator_depth = 0,
		.retry_count = 7,
		.rnr_retry_count = 7,
	};

	return rdma_connect(id, &p) ? neg_errno() : 0;
}

int shim_disconnect(struct rdma_cm_id *id)
{
	return rdma_disconnect(id) ? neg_errno() : 0;
}

/* ---- rdma_cm, passive side (rnbd-peer serve-malformed) ---- */

/* Binds id to host:port ("" or NULL: any IPv4 address) and listens. */
int shim_listen(struct rdma_cm_id *id, const char *host, uint16_t port, int backlog)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
	char portstr[8];
	int ret;

	if (!host || !*host) {
		ret = rdma_bind_addr(id, (struct sockaddr *)&any) ? neg_errno() : 0;
	} else {
		snprintf(portstr, sizeof(portstr), "%u", port);
		if (getaddrinfo(host, portstr, &hints, &res))
			return -EADDRNOTAVAIL;
		ret = rdma_bind_addr(id, res->ai_addr) ? neg_errno() : 0;
		freeaddrinfo(res);
	}
	if (ret)
		return ret;
	return rdma_listen(id, backlog) ? neg_errno() : 0;
}

/* Accepts a connection request with private data (as rtrs_rdma_do_accept():
 * rnr_retry_count 7, no RDMA read resources). */
int shim_accept(struct rdma_cm_id *id, const void *pdata, uint8_t pdata_len)
{
	struct rdma_conn_param p = {
		.private_data = pdata_len ? pdata : NULL,
		.private_data_len = pdata_len,
		.rnr_retry_count = 7,
	};

	return rdma_accept(id, &p) ? neg_errno() : 0;
}

/* Rejects a connection request, with private data or none (len 0). */
int shim_reject(struct rdma_cm_id *id, const void *pdata, uint8_t pdata_len)
{
	return rdma_reject(id, pdata_len ? pdata : NULL, pdata_len) ? neg_errno() : 0;
}

void shim_set_context(struct rdma_cm_id *id, uintptr_t ctx)
{
	id->context = (void *)ctx;
}

struct shim_cm_event {
	int event;
	int status;
	uintptr_t ctx; /* the id's context: our connection index */
	struct rdma_cm_id *new_id; /* CONNECT_REQUEST: the new connection's id */
	uint32_t pdata_len;
	uint8_t pdata[256];
};

/* 0: an event in *ev; -EAGAIN: none pending; other negative: error. */
int shim_get_cm_event(struct rdma_event_channel *ch, struct shim_cm_event *ev)
{
	struct rdma_cm_event *e;
	uint32_t len = 0;

	if (rdma_get_cm_event(ch, &e))
		return neg_errno();
	ev->event = e->event;
	ev->status = e->status;
	ev->ctx = (uintptr_t)e->id->context;
	ev->new_id = e->event == RDMA_CM_EVENT_CONNECT_REQUEST ? e->id : NULL;
	if (e->event == RDMA_CM_EVENT_ESTABLISHED || e->event == RDMA_CM_EVENT_REJECTED ||
	    e->event == RDMA_CM_EVENT_CONNECT_RESPONSE ||
	    e->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
		len = e->param.conn.private_data_len;
		if (len > sizeof(ev->pdata))
			len = sizeof(ev->pdata);
		if (len && e->param.conn.private_data)
			memcpy(ev->pdata, e->param.conn.private_data, len);
		else
			len = 0;
	}
	ev->pdata_len = len;
	rdma_ack_cm_event(e);
	return 0;
}

const char *shim_cm_event_str(int event)
{
	return rdma_event_str(event);
}

/* ---- verbs ---- */

struct ibv_pd *shim_alloc_pd(struct ibv_context *ctx)
{
	return ibv_alloc_pd(ctx);
}

int shim_dealloc_pd(struct ibv_pd *pd)
{
	return -ibv_dealloc_pd(pd);
}

struct ibv_comp_channel *shim_create_comp_channel(struct ibv_context *ctx, int *err)
{
	struct ibv_comp_channel *ch = ibv_create_comp_channel(ctx);

	if (!ch) {
		*err = neg_errno();
		return NULL;
	}
	*err = set_nonblock(ch->fd);
	if (*err) {
		ibv_destroy_comp_channel(ch);
		return NULL;
	}
	return ch;
}

int shim_destroy_comp_channel(struct ibv_comp_channel *ch)
{
	return -ibv_destroy_comp_channel(ch);
}

int shim_comp_channel_fd(struct ibv_comp_channel *ch)
{
	return ch->fd;
}

struct ibv_cq *shim_create_cq(struct ibv_context *ctx, int cqe, struct ibv_comp_channel *ch)
{
	return ibv_create_cq(ctx, cqe, NULL, ch, 0);
}

int shim_destroy_cq(struct ibv_cq *cq)
{
	return -ibv_destroy_cq(cq);
}

int shim_req_notify_cq(struct ibv_cq *cq)
{
	return -ibv_req_notify_cq(cq, 0);
}

/* Takes one pending CQ event off the channel and acks it: 1 if there was
 * one, 0 if none (-EAGAIN), negative on error. */
int shim_get_cq_event(struct ibv_comp_channel *ch)
{
	struct ibv_cq *cq;
	void *ctx;

	if (ibv_get_cq_event(ch, &cq, &ctx))
		return errno == EAGAIN ? 0 : neg_errno();
	ibv_ack_cq_events(cq, 1);
	return 1;
}

struct ibv_mr *shim_reg_mr(struct ibv_pd *pd, void *addr, size_t len, uint32_t *lkey,
			   uint32_t *rkey)
{
	struct ibv_mr *mr = ibv_reg_mr(pd, addr, len,
				       IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);

	if (mr) {
		*lkey = mr->lkey;
		*rkey = mr->rkey;
	}
	return mr;
}

int shim_dereg_mr(struct ibv_mr *mr)
{
	return -ibv_dereg_mr(mr);
}

int shim_post_recv(struct ibv_qp *qp, uint64_t wr_id, uint64_t addr, uint32_t len, uint32_t lkey)
{
	struct ibv_sge sge = { .addr = addr, .length = len, .lkey = lkey };
	struct ibv_recv_wr wr = {
		.wr_id = wr_id,
		.sg_list = &sge,
		.num_sge = len ? 1 : 0,
	}, *bad;

	return -ibv_post_recv(qp, &wr, &bad);
}

enum shim_send_op {
	SHIM_SEND = 0,
	SHIM_WRITE_WITH_IMM = 1,
	SHIM_SEND_WITH_IMM = 2,
};

/* One signalled work request with at most one SGE (len 0: none). imm is
 * in host order. */
int shim_post_send(struct ibv_qp *qp, uint64_t wr_id, int op, uint64_t addr, uint32_t len,
		   uint32_t lkey, uint64_t remote_addr, uint32_t rkey, uint32_t imm)
{
	struct ibv_sge sge = { .addr = addr, .length = len, .lkey = lkey };
	struct ibv_send_wr wr = {
		.wr_id = wr_id,
		.sg_list = &sge,
		.num_sge = len ? 1 : 0,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	switch (op) {
	case SHIM_SEND:
		wr.opcode = IBV_WR_SEND;
		break;
	case SHIM_WRITE_WITH_IMM:
		wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
		wr.imm_data = htonl(imm);
		wr.wr.rdma.remote_addr = remote_addr;
		wr.wr.rdma.rkey = rkey;
		break;
	case SHIM_SEND_WITH_IMM:
		wr.opcode = IBV_WR_SEND_WITH_IMM;
		wr.imm_data = htonl(imm);
		break;
	default:
		return -EINVAL;
	}
	return -ibv_post_send(qp, &wr, &bad);
}

struct shim_wc {
	uint64_t wr_id;
	uint32_t status;
	uint32_t opcode; /* 0 send, 1 rdma write, 128 recv, 129 recv rdma with imm, ... */
	uint32_t byte_len;
	uint32_t imm;	 /* host order, valid if has_imm */
	uint32_t qp_num;
	uint32_t has_imm;
	uint32_t vendor_err;
	uint32_t pad;
};

int shim_poll_cq(struct ibv_cq *cq, struct shim_wc *out, int n)
{
	struct ibv_wc wc[32];
	int got, i;

	if (n > 32)
		n = 32;
	got = ibv_poll_cq(cq, n, wc);
	if (got < 0)
		return -EIO;
	for (i = 0; i < got; i++) {
		out[i].wr_id = wc[i].wr_id;
		out[i].status = wc[i].status;
		out[i].opcode = wc[i].opcode;
		out[i].byte_len = wc[i].byte_len;
		out[i].has_imm = !!(wc[i].wc_flags & IBV_WC_WITH_IMM);
		out[i].imm = out[i].has_imm ? ntohl(wc[i].imm_data) : 0;
		out[i].qp_num = wc[i].qp_num;
		out[i].vendor_err = wc[i].vendor_err;
		out[i].pad = 0;
	}
	return got;
}

const char *shim_wc_status_str(uint32_t status)
{
	return ibv_wc_status_str(status);
}

/* ---- waiting ---- */

/* Waits up to timeout_ms for fd_a/fd_b (-1: unused) to become readable.
 * Returns a bitmask (1: a, 2: b), 0 on timeout, negative errno. */
int shim_wait2(int fd_a, int fd_b, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = fd_a, .events = POLLIN }, { .fd = fd_b, .events = POLLIN } };
	int ret = poll(p, 2, timeout_ms);

	if (ret < 0)
		return errno == EINTR ? 0 : neg_errno();
	return ((p[0].revents & (POLLIN | POLLERR | POLLHUP)) ? 1 : 0) |
	       ((p[1].revents & (POLLIN | POLLERR | POLLHUP)) ? 2 : 0);
}
