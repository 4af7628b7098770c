//! The registry's component inspector on the real template component built by `cargo xtask build-plugins`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

use modhost_testkit::load as built_module;

#[test]
fn the_component_exports_the_world_interfaces() {
    let built = built_module("template@0.1.0");
    let interface = modhost_registry::component::inspect(&built.component).expect("a valid component");
    let (mut exports, imports) = (interface.exports, interface.imports);
    exports.sort();
    assert_eq!(
        exports,
        ["modhost:module/handler@1.0.0", "modhost:module/lifecycle@1.0.0"]
    );
    for capability in [
        "modhost:module/kv@1.0.0",
        "modhost:module/config@1.0.0",
        "modhost:module/log@1.0.0",
    ] {
        assert!(
            imports.iter().any(|import| import == capability),
            "{capability} missing from {imports:?}"
        );
    }
    assert!(
        !imports
            .iter()
            .any(|import| import.starts_with("modhost:module/modules")),
        "not granted: {imports:?}"
    );
}
