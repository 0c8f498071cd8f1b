// SPDX-License-Identifier: GPL-2.0

//! Trace events with the names, fields and output of upstream's
//! (`rnbd_srv:*`, `rtrs_srv:*`, `rtrs_clt:*`), defined in C by
//! `trace/*.h` and compiled into the module that has them
//! (`trace/trace.c`): 6.12's Rust cannot define a tracepoint, only call
//! one that C declares, so each event is a small C function here. A
//! disabled event costs the call and one static-key test.
//!
//! Every function is `#[inline]`: a module only references the events it
//! calls, so the client does not need the server's and the reverse.

use kernel::str::CStr;

use super::bindings;

/// The RTRS direction of a request, as the events print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceDir {
    /// `READ` (0).
    Read = 0,
    /// `WRITE` (1).
    Write = 1,
}

/// `rnbd_srv:create_sess`: an RNBD session connected.
#[inline]
pub fn create_sess(sessname: &CStr, qdepth: i32) {
    // SAFETY: `sessname` is NUL-terminated and outlives the call; the
    // event copies it.
    unsafe { bindings::rnbd_trace_create_sess(sessname.as_char_ptr(), qdepth) }
}

/// `rnbd_srv:destroy_sess`: an RNBD session is gone.
#[inline]
pub fn destroy_sess(sessname: &CStr, qdepth: i32) {
    // SAFETY: as in `create_sess`.
    unsafe { bindings::rnbd_trace_destroy_sess(sessname.as_char_ptr(), qdepth) }
}

/// The fields of `rnbd_srv:process_rdma`, one IO message.
#[derive(Clone, Copy, Debug)]
pub struct ProcessRdma {
    /// The RTRS direction.
    pub dir: TraceDir,
    /// The session's protocol version.
    pub ver: u8,
    /// `device_id`, `sector`, `rw`, `bi_size`, `prio` of the message.
    pub device_id: u32,
    /// See `device_id`.
    pub sector: u64,
    /// See `device_id`.
    pub flags: u32,
    /// See `device_id`.
    pub bi_size: u32,
    /// See `device_id`.
    pub ioprio: u16,
    /// Data bytes in the chunk.
    pub datalen: u32,
    /// User header bytes.
    pub usrlen: usize,
}

/// `rnbd_srv:process_rdma`: an IO message arrived.
#[inline]
pub fn process_rdma(sessname: &CStr, e: &ProcessRdma) {
    // SAFETY: as in `create_sess`; the rest are values.
    unsafe {
        bindings::rnbd_trace_process_rdma(
            sessname.as_char_ptr(),
            e.dir as u8,
            e.ver,
            e.device_id,
            e.sector,
            e.flags,
            e.bi_size,
            e.ioprio,
            e.datalen,
            e.usrlen,
        )
    }
}

/// `rnbd_srv:process_msg_sess_info`.
#[inline]
pub fn process_msg_sess_info(sessname: &CStr, proto_ver: u8, clt_ver: u8, srv_ver: u8) {
    // SAFETY: as in `create_sess`.
    unsafe {
        bindings::rnbd_trace_process_msg_sess_info(
            sessname.as_char_ptr(),
            proto_ver,
            clt_ver,
            srv_ver,
        )
    }
}

/// `rnbd_srv:process_msg_open` (`access_mode` as on the wire: 0 ro, 1 rw,
/// 2 migration).
#[inline]
pub fn process_msg_open(sessname: &CStr, dev_name: &CStr, access_mode: u8) {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    unsafe {
        bindings::rnbd_trace_process_msg_open(
            sessname.as_char_ptr(),
            dev_name.as_char_ptr(),
            access_mode,
        )
    }
}

/// `rnbd_srv:process_msg_close`.
#[inline]
pub fn process_msg_close(sessname: &CStr, device_id: u32) {
    // SAFETY: as in `create_sess`.
    unsafe { bindings::rnbd_trace_process_msg_close(sessname.as_char_ptr(), device_id) }
}

/// The fields of `rtrs_srv:send_io_resp_imm`, one IO response.
#[derive(Clone, Copy, Debug)]
pub struct SendIoRespImm {
    /// The path's state (0 connecting, 1 connected, 2 closing, 3 closed).
    pub state: i32,
    /// The RTRS direction.
    pub dir: TraceDir,
    /// Whether the client asked for its rkey to be invalidated.
    pub need_inval: bool,
    /// `always_invalidate`.
    pub always_invalidate: bool,
    /// The chunk (buffer id).
    pub msg_id: u32,
    /// Work requests posted on the connection so far.
    pub wr_cnt: i32,
    /// Every how many sends one is signalled.
    pub signal_interval: u32,
    /// The errno answered (0 or negative).
    pub errno: i32,
}

/// Whether `rtrs_srv:send_io_resp_imm` is enabled (skip gathering its
/// fields otherwise).
#[inline]
pub fn send_io_resp_imm_enabled() -> bool {
    // SAFETY: reads a static key.
    unsafe { bindings::rnbd_trace_send_io_resp_imm_enabled() }
}

/// `rtrs_srv:send_io_resp_imm`: an IO response goes out (`sessname` is the
/// path's name, as upstream's `kobject_name(&srv_path->kobj)`).
#[inline]
pub fn send_io_resp_imm(sessname: &CStr, e: &SendIoRespImm) {
    // SAFETY: as in `create_sess`; the rest are values.
    unsafe {
        bindings::rnbd_trace_send_io_resp_imm(
            sessname.as_char_ptr(),
            e.state,
            e.dir as u8,
            e.need_inval,
            e.always_invalidate,
            e.msg_id,
            e.wr_cnt,
            e.signal_interval,
            e.errno,
        )
    }
}

/// The fields of the `rtrs_clt` path events.
#[derive(Clone, Copy, Debug)]
pub struct CltPath {
    /// The path's state (upstream's `enum rtrs_clt_state`: 0 connecting,
    /// 1 connecting_err, 2 reconnecting, 3 connected, 4 closing, 5
    /// closed, 6 dead).
    pub state: i32,
    /// Reconnect attempts so far.
    pub reconnect_attempts: i32,
    /// The session's `max_reconnect_attempts`.
    pub max_reconnect_attempts: i32,
    /// `stats/reconnects`: failed and successful.
    pub fail_cnt: i32,
    /// See `fail_cnt`.
    pub success_cnt: i32,
}

/// Which `rtrs_clt` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CltPathEvent {
    /// `rtrs_clt:rtrs_clt_reconnect_work`: a reconnect attempt starts.
    ReconnectWork,
    /// `rtrs_clt:rtrs_clt_close_conns`: the path's connections close.
    CloseConns,
    /// `rtrs_clt:rtrs_rdma_error_recovery`: an RDMA error takes the path
    /// down to reconnect.
    RdmaErrorRecovery,
}

/// One `rtrs_clt` event for the path named `pathname`.
#[inline]
pub fn clt_path(event: CltPathEvent, pathname: &CStr, e: &CltPath) {
    let name = pathname.as_char_ptr();
    let f = match event {
        CltPathEvent::ReconnectWork => bindings::rnbd_trace_rtrs_clt_reconnect_work,
        CltPathEvent::CloseConns => bindings::rnbd_trace_rtrs_clt_close_conns,
        CltPathEvent::RdmaErrorRecovery => bindings::rnbd_trace_rtrs_rdma_error_recovery,
    };
    // SAFETY: as in `create_sess`; the rest are values.
    unsafe {
        f(
            name,
            e.state,
            e.reconnect_attempts,
            e.max_reconnect_attempts,
            e.fail_cnt,
            e.success_cnt,
        )
    }
}
