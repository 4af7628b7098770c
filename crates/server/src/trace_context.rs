//! W3C Trace Context: the remote parent an incoming `traceparent` header names.
//!
//! Only `traceparent` is read (`tracestate` is not carried). A header that is
//! absent or malformed is ignored, never refused: tracing is for the operator,
//! not a condition of service.

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};

/// The header, e.g. `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`.
pub(crate) const TRACEPARENT: &str = "traceparent";

/// The remote span context `headers`' `traceparent` names, as an OpenTelemetry context.
pub(crate) fn remote_parent(headers: &axum::http::HeaderMap) -> Option<Context> {
    let value = headers.get(TRACEPARENT)?.to_str().ok()?.trim();
    let mut fields = value.split('-');
    let (version, trace_id, span_id, flags) =
        (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
    let lower_hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    };
    // Version 00 has exactly four fields; a later version may append more; `ff` is invalid.
    if !lower_hex(version, 2) || version == "ff" || (version == "00" && fields.next().is_some()) {
        return None;
    }
    if !lower_hex(trace_id, 32) || !lower_hex(span_id, 16) || !lower_hex(flags, 2) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    let sampled = u8::from_str_radix(flags, 16).ok()? & TraceFlags::SAMPLED.to_u8();
    let remote = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(sampled),
        true,
        TraceState::default(),
    );
    Some(Context::new().with_remote_span_context(remote))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(value: &str) -> Option<SpanContext> {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(TRACEPARENT, value.parse().unwrap());
        remote_parent(&headers).map(|context| context.span().span_context().clone())
    }

    #[test]
    fn a_valid_traceparent_is_the_remote_parent_and_anything_else_is_ignored() {
        let context = parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.span_id().to_string(), "00f067aa0ba902b7");
        assert!(context.is_sampled() && context.is_remote());
        let unsampled = parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert!(!unsampled.is_sampled());
        assert!(parent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later").is_some());
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        ] {
            assert!(parent(bad).is_none(), "{bad:?}");
        }
        assert!(remote_parent(&axum::http::HeaderMap::new()).is_none());
    }
}
