//! The WASI policy: what of WASI p2 a module gets (clocks, random, captured stdout/stderr) and what it never gets.
//!
//! No filesystem preopens, no environment, no arguments, no sockets or name
//! lookups. stdout and stderr go to bounded in-memory pipes; after the call
//! their lines become the module's log records (stdout at info, stderr at
//! warn). Writing past the bound fails the guest's write.
//!
//! Every WASI p2 interface is linked, `wasi:sockets` included, because
//! toolchains built on wasi-libc (CPython through componentize-py) import
//! them whether or not they are used; the registry accepts those imports.
//! Linked is not granted: creating a TCP or UDP socket fails with
//! `access-denied`, resolving a name fails, and no socket address passes the
//! (default, deny-all) address check. The test below checks the first two.

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

#[cfg(test)]
mod tests {
    use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddressFamily};
    use wasmtime_wasi::p2::bindings::sockets::{
        instance_network, ip_name_lookup, tcp_create_socket, udp_create_socket,
    };
    use wasmtime_wasi::sockets::WasiSocketsView as _;

    use super::*;

    struct Policy(WasiCtxs);

    impl WasiView for Policy {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView {
                ctx: &mut self.0.ctx,
                table: &mut self.0.table,
            }
        }
    }

    fn denied<T>(result: wasmtime_wasi::p2::SocketResult<T>) -> ErrorCode {
        match result {
            Ok(_) => panic!("the policy let a socket operation through"),
            Err(error) => error.downcast().expect("an error code, not a trap"),
        }
    }

    #[tokio::test]
    async fn sockets_are_linked_but_every_use_is_denied() {
        let mut policy = Policy(WasiPolicy.call_state());
        let mut sockets = policy.sockets();
        for family in [IpAddressFamily::Ipv4, IpAddressFamily::Ipv6] {
            assert_eq!(
                denied(tcp_create_socket::Host::create_tcp_socket(&mut sockets, family)),
                ErrorCode::AccessDenied
            );
            assert_eq!(
                denied(udp_create_socket::Host::create_udp_socket(&mut sockets, family).await),
                ErrorCode::AccessDenied
            );
        }
        let network = instance_network::Host::instance_network(&mut sockets).expect("a network handle");
        assert_eq!(
            denied(ip_name_lookup::Host::resolve_addresses(
                &mut sockets,
                network,
                "example.com".into()
            )),
            ErrorCode::PermanentResolverFailure,
            "a name lookup fails at once"
        );
    }

    /// What building one call's WASI context costs (the pipes, the context,
    /// its random sources); every call builds one. Prints, asserts no time.
    #[test]
    #[ignore = "a measurement: run by hand with --ignored --nocapture"]
    #[allow(clippy::print_stdout, reason = "the figures are the output")]
    fn measure_call_state() {
        let rounds = 100_000_u32;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(WasiPolicy.call_state());
        }
        println!("wasi call state: {:?} per call", started.elapsed() / rounds);
    }
}
