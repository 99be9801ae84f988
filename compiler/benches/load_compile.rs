//! Load and compile of the largest shared spec, against a plain parse of the same file into a
//! `serde_json::Value` with the same YAML parser (saphyr), measured in the same run.
//!
//! `cargo bench -p specgate-compiler --bench load_compile` (reads ../shared/specs, or SPECGATE_SHARED_SPECS).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};
use specgate_compiler::{Limits, Spec, compile};

// The allocator the `specgate` binary uses, so that these times are the command's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The baseline: YAML events straight into a value, plain scalars typed by the YAML 1.2 core schema
/// (as any correct parse into a `Value` must), with no positions, checks or limits.
fn plain_parse(text: &str) -> Value {
    enum Open {
        Map(Map<String, Value>, Option<String>),
        Seq(Vec<Value>),
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut root = Value::Null;
    let mut anchors: std::collections::HashMap<usize, Value> = Default::default();
    let put = |stack: &mut Vec<Open>, root: &mut Value, v: Value| match stack.last_mut() {
        Some(Open::Seq(items)) => items.push(v),
        Some(Open::Map(map, key)) => match key.take() {
            Some(k) => {
                map.insert(k, v);
            }
            None => {
                *key = Some(
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string()),
                )
            }
        },
        None => *root = v,
    };
    for event in Parser::new_from_str(text) {
        let Ok((event, _)) = event else { break };
        match event {
            Event::Scalar(s, style, anchor, _) => {
                let v = match style {
                    ScalarStyle::Plain => specgate_compiler::load::resolve_plain_yaml_scalar(&s),
                    _ => Value::String(s.into_owned()),
                };
                if anchor != 0 {
                    anchors.insert(anchor, v.clone());
                }
                put(&mut stack, &mut root, v);
            }
            Event::MappingStart(..) => stack.push(Open::Map(Map::new(), None)),
            Event::SequenceStart(..) => stack.push(Open::Seq(Vec::new())),
            Event::MappingEnd | Event::SequenceEnd => {
                let v = match stack.pop() {
                    Some(Open::Map(m, _)) => Value::Object(m),
                    Some(Open::Seq(s)) => Value::Array(s),
                    None => Value::Null,
                };
                put(&mut stack, &mut root, v);
            }
            Event::Alias(id) => {
                let v = anchors.get(&id).cloned().unwrap_or(Value::Null);
                put(&mut stack, &mut root, v);
            }
            _ => {}
        }
    }
    root
}

fn largest_shared_spec() -> Option<PathBuf> {
    let dir = std::env::var_os("SPECGATE_SHARED_SPECS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/specs"))
        });
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
}

fn bench(c: &mut Criterion) {
    let Some(path) = largest_shared_spec() else {
        eprintln!("../shared/specs is absent: nothing to measure");
        return;
    };
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    if path.extension().is_some_and(|e| e == "json") {
        group.bench_function("parse: serde_json into Value", |b| {
            b.iter(|| serde_json::from_str::<Value>(&text))
        });
    }
    group.bench_function("parse: saphyr events into Value", |b| {
        b.iter(|| plain_parse(&text))
    });
    group.bench_function("load (values + positions + checks)", |b| {
        b.iter(|| Spec::load(&path, Limits::default()).map(|s| s.dialect))
    });
    group.bench_function("load + compile", |b| {
        b.iter(|| {
            let spec = Spec::load(&path, Limits::default()).ok()?;
            compile(&spec).ok().map(|c| c.plan.operations.len())
        })
    });
    group.bench_function("load + compile + lint (all rules)", |b| {
        let config = specgate_compiler::lint::Config::default();
        b.iter(|| {
            specgate_compiler::lint::lint_file(&path, &config)
                .map(|(_, f)| f.len())
                .ok()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
