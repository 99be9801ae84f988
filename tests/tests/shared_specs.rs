//! Every real public spec in ../shared/specs loads, compiles deterministically and becomes an engine.

use specgate_runtime::Engine;

#[test]
fn every_shared_spec_compiles_deterministically_and_loads_into_an_engine() {
    let files = specgate_tests::shared_spec_files();
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let started = std::time::Instant::now();
        let first = match specgate_compiler::compile_file(path) {
            Ok(compiled) => compiled.plan,
            Err(errors) => {
                failures.push(format!("{name}: {}", errors[0]));
                continue;
            }
        };
        let engine = Engine::load(&first);
        let second = specgate_compiler::compile_file(path).map(|c| c.plan.to_json());
        if second.as_ref().ok() != Some(&first.to_json()) {
            failures.push(format!("{name}: two compilations gave different plans"));
        }
        match engine {
            Ok(engine) => eprintln!(
                "{name}: {} operations, {} shared schemas, {:?}",
                engine.operations().len(),
                first.schemas.len(),
                started.elapsed()
            ),
            Err(e) => failures.push(format!("{name}: engine: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if specgate_tests::shared_specs().is_some() {
        assert!(
            files.len() >= 10,
            "expected the shared specs, found {}",
            files.len()
        );
    }
}
