//! The WASI policy: what of WASI p2 a module gets (clocks, random, captured stdout/stderr) and what it never gets.
//!
//! No filesystem preopens, no environment, no arguments, no sockets or name
//! lookups. stdout and stderr go to bounded in-memory pipes; after the call
//! their lines become the module's log records (stdout at info, stderr at
//! warn). Writing past the bound fails the guest's write.

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::CallState;
use crate::logs::LogLevel;

/// The most bytes of stdout and of stderr kept per call.
pub const MAX_CAPTURED_OUTPUT_BYTES: usize = 64 * 1024;

/// What a call's WASI may do; the host has one policy for every module.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasiPolicy;

/// One call's WASI state: the context, its resource table, the captured pipes.
pub(crate) struct WasiCtxs {
    ctx: WasiCtx,
    table: ResourceTable,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl WasiPolicy {
    /// A fresh WASI context for one call under the policy.
    pub(crate) fn call_state(self) -> WasiCtxs {
        let stdout = MemoryOutputPipe::new(MAX_CAPTURED_OUTPUT_BYTES);
        let stderr = MemoryOutputPipe::new(MAX_CAPTURED_OUTPUT_BYTES);
        let ctx = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        WasiCtxs {
            ctx,
            table: ResourceTable::new(),
            stdout,
            stderr,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi.ctx,
            table: &mut self.wasi.table,
        }
    }
}

/// Links WASI p2 (asynchronous, so a blocked guest never holds a thread).
pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)
}

/// Turns what the call wrote to stdout and stderr into its log records.
pub(crate) fn drain_captured_output(state: &mut CallState) {
    for (pipe, level, stream) in [
        (state.wasi.stdout.clone(), LogLevel::Info, "stdout"),
        (state.wasi.stderr.clone(), LogLevel::Warn, "stderr"),
    ] {
        let contents = pipe.contents();
        for line in String::from_utf8_lossy(&contents)
            .lines()
            .filter(|line| !line.trim().is_empty())
        {
            state
                .log
                .push(level, line.to_owned(), vec![("stream".into(), stream.into())]);
        }
    }
    state.log.report_dropped();
}
