//! The dev loop's files, checked offline (no tilt, docker or kind here): the Tiltfile loads
//! every extension function it calls and never passes `namespace_create`'s result (nothing: it
//! applies the Namespace itself) to `k8s_yaml`; it installs an Ingress controller and waits for
//! the Shop; the Dockerfiles cache dependencies between builds.
#![allow(clippy::unwrap_used)]

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Code lines only (Starlark comments start with `#`).
fn code(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim_start().starts_with('#')).collect()
}

#[test]
fn the_tiltfile_loads_what_it_uses() {
    let tiltfile = read("Tiltfile");
    let lines = code(&tiltfile);
    // Functions that come from Tilt extensions, with the extension that provides them.
    for (function, extension) in [
        ("namespace_create(", "ext://namespace"),
        ("helm_resource(", "ext://helm_resource"),
        ("docker_build_with_restart(", "ext://restart_process"),
    ] {
        let used = lines.iter().any(|l| l.contains(function) && !l.starts_with("load("));
        if used {
            let name = function.trim_end_matches('(');
            let loaded = lines
                .iter()
                .any(|l| l.starts_with("load(") && l.contains(extension) && l.contains(name));
            assert!(
                loaded,
                "the Tiltfile calls {name} without load('{extension}', '{name}')"
            );
        }
    }
    assert!(
        !lines.iter().any(|l| l.contains("k8s_yaml(namespace_create")),
        "namespace_create applies itself and returns nothing for k8s_yaml"
    );
}

#[test]
fn the_tiltfile_installs_an_ingress_controller_and_waits_for_the_shop() {
    let tiltfile = read("Tiltfile");
    let text = code(&tiltfile).join("\n");
    assert!(
        text.contains("ingress-nginx") && text.contains("provider/kind"),
        "no Ingress controller on kind"
    );
    assert!(
        text.contains("is-default-class"),
        "the minimal Shop's Ingress names no class"
    );
    assert!(
        text.contains("--for=condition=Ready"),
        "the loop does not wait for the Shop"
    );
}

#[test]
fn the_dockerfiles_cache_dependencies() {
    for path in ["Dockerfile", "operator/Dockerfile"] {
        let dockerfile = read(path);
        assert!(
            dockerfile.starts_with("# syntax=docker/dockerfile:1"),
            "{path}: cache mounts need the BuildKit syntax"
        );
        for cache in ["/usr/local/cargo/registry", "/src/target"] {
            assert!(
                dockerfile.contains("--mount=type=cache,") && dockerfile.contains(&format!("target={cache}")),
                "{path}: {cache} is not a cache mount: every build recompiles every dependency"
            );
        }
        assert!(
            dockerfile.contains("--locked"),
            "{path}: the image must build what Cargo.lock says"
        );
    }
}
