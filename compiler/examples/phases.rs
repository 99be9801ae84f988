use std::time::Instant;
fn main() {
    let path = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    for _ in 0..5 {
        let t0 = Instant::now();
        let spec = specgate_compiler::Spec::load(&path, specgate_compiler::Limits::default()).unwrap();
        let t1 = Instant::now();
        let compiled = specgate_compiler::compile::compile_policies(&spec).unwrap();
        let t2 = Instant::now();
        let f = {
            let cx = specgate_compiler::lint::LintContext::new(&spec, &compiled.plan);
            specgate_compiler::lint::lint(&cx, &specgate_compiler::lint::Config::default())
        };
        let t3 = Instant::now();
        drop(f);
        let t4 = Instant::now();
        drop(compiled);
        let t5 = Instant::now();
        drop(spec);
        let t6 = Instant::now();
        eprintln!("load {:?} policies {:?} lint {:?} dropf {:?} dropplan {:?} dropspec {:?}", t1-t0, t2-t1, t3-t2, t4-t3, t5-t4, t6-t5);
    }
}
