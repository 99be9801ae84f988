"""Turns the measurements of bench/run into BENCHMARKS.md and a summary on standard output.

python3 bench/report.py RESULTS_DIR OUTPUT.md — RESULTS_DIR holds the tab-separated files bench/run
writes (facts, load, rss, threads, lint, findings, criterion, startup); any of them may be absent
when a part was skipped.
"""

import os
import statistics
import sys
from pathlib import Path

TARGETS = {
    "upstream": "1. upstream alone",
    "nginx": "2. nginx, plain proxy",
    "hyper": "2b. bare hyper proxy",
    "validate": "3. specgate, validation only",
    "full": "4. specgate, full policy",
    "redis": "5. specgate, full policy + Redis",
}
TICK = os.sysconf("SC_CLK_TCK")


def rows(directory, name):
    path = directory / f"{name}.tsv"
    if not path.exists():
        return []
    return [line.split("\t") for line in path.read_text().splitlines() if line.strip()]


def us(value):
    """A latency in µs, shown in ms from a millisecond up."""
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.0f} µs"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def ratio(a, b):
    return f"{a / b:.2f}×" if b else "—"


def table(header, body):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def load_section(results, facts):
    raw = rows(results, "load")
    if not raw:
        return None, {}
    runs = {}
    for round_, conc, target, fields, proxy_user, proxy_sys, upstream, redis, wrk_cpu in raw:
        v = {k: int(x) for k, x in (kv.split("=") for kv in fields.split())}
        v.update(proxy_user=int(proxy_user), proxy_sys=int(proxy_sys), upstream=int(upstream),
                 redis=int(redis), wrk_cpu=float(wrk_cpu or 0))
        v["rps"] = v["requests"] / v["duration_us"] * 1e6
        v["errors"] = sum(v[k] for k in ("connect", "read", "write", "status", "timeout"))
        runs.setdefault((int(conc), target), []).append(v)
    rss = {r[0]: [int(x) for x in r[1:]] for r in rows(results, "rss")}
    threads = {r[0]: r[1] for r in rows(results, "threads")}

    def summary(conc, target):
        rs = runs.get((conc, target), [])
        if not rs:
            return None
        requests = sum(r["requests"] for r in rs)
        seconds = sum(r["duration_us"] for r in rs) / 1e6
        user = sum(r["proxy_user"] for r in rs) / TICK
        system = sum(r["proxy_sys"] for r in rs) / TICK
        proxy = user + system
        upstream = sum(r["upstream"] for r in rs) / TICK
        redis = sum(r["redis"] for r in rs) / TICK
        if target == "upstream":  # no proxy: the upstream's own CPU stands in the proxy's column
            proxy, upstream = upstream, 0.0
        return {
            "rps": statistics.median(r["rps"] for r in rs),
            "rps_min": min(r["rps"] for r in rs),
            "rps_max": max(r["rps"] for r in rs),
            "p50": statistics.median(r["p50"] for r in rs),
            "p99": statistics.median(r["p99"] for r in rs),
            "p999": statistics.median(r["p999"] for r in rs),
            "cpu_proxy": proxy / requests * 1e4,
            "cpu_all": (proxy + upstream + redis) / requests * 1e4,
            "user_us": user / requests * 1e6,
            "sys_us": system / requests * 1e6,
            "wrk_cpu": sum(r["wrk_cpu"] for r in rs) / seconds * 100,
            "errors": sum(r["errors"] for r in rs),
            "rss": rss.get(target, [0])[0],
            "rounds": len(rs),
        }

    conns = sorted({c for c, _ in runs}, reverse=True)
    out = []
    stats = {}
    for conc in conns:
        s = {t: summary(conc, t) for t in TARGETS}
        stats[conc] = s
        base, ngx = s.get("upstream"), s.get("nginx")
        title = f"### {conc} connection{'s' if conc > 1 else ''}"
        out.append(title)
        body = []
        for t, name in TARGETS.items():
            x = s.get(t)
            if not x:
                continue
            body.append([
                name,
                f"{x['rps']:,.0f} ({x['rps_min']:,.0f}–{x['rps_max']:,.0f})",
                us(x["p50"]), us(x["p99"]), us(x["p999"]),
                "—" if t == "upstream" else f"{x['cpu_proxy']:.3f}",
                f"{x['cpu_all']:.3f}",
                mib(x["rss"]),
                f"{x['wrk_cpu']:.0f}%",
                x["errors"],
            ])
        out.append(table(
            ["target", "req/s median (min–max)", "p50", "p99", "p99.9", "CPU s/10k req, proxy",
             "CPU s/10k req, all servers", "peak RSS", "wrk CPU", "errors"], body))
        out.append("")
        body = []
        for t, name in TARGETS.items():
            x = s.get(t)
            if not x or not base or not ngx:
                continue
            row = [name]
            for key in ("rps", "p50", "p99", "p999", "cpu_all", "rss"):
                row += [ratio(x[key], base[key]), ratio(x[key], ngx[key])]
            if conc == 1:
                row += [f"{x['p50'] - base['p50']:+.0f} µs", f"{x['p50'] - ngx['p50']:+.0f} µs"]
            body.append(row)
        header = ["ratios", "req/s ÷(1)", "÷(2)", "p50 ÷(1)", "÷(2)", "p99 ÷(1)", "÷(2)",
                  "p99.9 ÷(1)", "÷(2)", "CPU ÷(1)", "÷(2)", "RSS ÷(1)", "÷(2)"]
        if conc == 1:
            header += ["p50 − (1)", "p50 − (2)"]
        out.append(table(header, body))
        out.append("")
    out.append("### Where a proxy's CPU goes, per request")
    body = []
    for t, name in TARGETS.items():
        if t == "upstream":
            continue
        row = [name]
        for conc in conns:
            x = stats[conc].get(t)
            row += [f"{x['user_us']:.1f} µs", f"{x['sys_us']:.1f} µs"] if x else ["—", "—"]
        body.append(row)
    header = ["proxy"]
    for conc in conns:
        header += [f"user, c={conc}", f"kernel, c={conc}"]
    out.append(table(header, body))
    out.append("")
    out.append(
        "User time is the proxy's own code (HTTP on both sides, and for specgate the policy); kernel "
        "time is mostly loopback TCP, which costs every proxy alike. A proxy that does the same "
        "socket work as nginx can only match nginx's requests/s if its user time per request does "
        "too. 2b runs specgate's HTTP stack and nothing else: its user time is the part of "
        "specgate's that hyper and tokio take, the rest is specgate's own work (policies, "
        "validation, access log, metrics).")
    out.append("")
    redis_rss = rss.get("redis", [0, 0, 0])[2]
    notes = [
        f"- Each cell is the median over {max(x['rounds'] for x in stats[conns[0]].values() if x)} "
        "rounds (min–max of req/s in brackets); CPU is the servers' user + system time over all rounds "
        "divided by the requests served (from `/proc/PID/stat`); peak RSS is `VmHWM` of the proxy "
        "(nginx: master + worker; 1: the upstream) after every round.",
        "- \"All servers\" adds the upstream's CPU (and Redis's for 5) to the proxy's: what the machine "
        "spends per request. \"wrk CPU\" near 100% means the load generator, not the server, set the pace.",
        f"- Redis for 5: peak RSS {mib(redis_rss)}, {facts.get('redis_commands', '?')} commands "
        "processed in the run.",
        "- Threads per process: " + ", ".join(f"{TARGETS[t].split('. ')[1]} {n}" for t, n in threads.items()) + ".",
    ]
    return "\n".join(out + notes), stats


def lint_section(results):
    raw = rows(results, "lint")
    if not raw:
        return None, {}
    by = {}
    for tool, spec, wall, rss_kb, rc in raw:
        by.setdefault((tool, spec), []).append((float(wall), int(rss_kb or 0), rc))
    findings = {(r[0], r[1]): r[2] for r in rows(results, "findings")}
    crashes = {r[0]: r[1] for r in rows(results, "spectral-stderr")}
    specs = list(dict.fromkeys(spec for _, spec in by))
    body = []
    facts = {}
    for spec in specs:
        sg = by.get(("specgate", spec), [])
        sp = by.get(("spectral", spec), [])
        sg_wall = statistics.median(w for w, _, _ in sg) if sg else None
        sg_rss = max(r for _, r, _ in sg) if sg else 0
        row = [f"`{spec}`", f"{sg_wall:.3f} s" if sg_wall else "—", mib(sg_rss) if sg else "—"]
        if sp:
            wall, rss_kb, rc = sp[0]
            state = {"0": "clean", "1": "findings"}.get(rc, f"failed (exit {rc})")
            row += [f"{wall:.1f} s", mib(rss_kb), state, f"{wall / sg_wall:,.0f}×" if sg_wall else "—",
                    ratio(rss_kb, sg_rss)]
            facts[spec] = {"speedup": wall / sg_wall if sg_wall else None, "spectral_rc": rc,
                           "stderr": crashes.get(spec, "")}
        else:
            row += ["not run"] * 3 + ["—", "—"]
        row.append(f"{findings.get(('specgate', spec), '—')} / {findings.get(('spectral', spec), '—')}")
        body.append(row)
        facts.setdefault(spec, {})["specgate_wall"] = sg_wall
    out = [table(["spec", "specgate lint (median)", "specgate peak RSS", "Spectral + OWASP",
                  "Spectral peak RSS", "Spectral outcome", "speed-up", "RSS ratio",
                  "findings specgate / Spectral"], body)]
    for spec, f in facts.items():
        if f.get("spectral_rc") not in (None, "0", "1"):
            out.append(f"\nSpectral on `{spec}` ended with exit {f['spectral_rc']}; the end of its output: "
                       f"`{f['stderr'].strip()[-300:]}`")
    # name -> {cores: seconds}; rows without a cores column come from runs before it was measured twice.
    crit = {}
    for r in rows(results, "criterion"):
        crit.setdefault(r[0], {})[int(r[2]) if len(r) > 2 else 1] = float(r[1])
    if crit:
        parse = crit.get("parse: saphyr events into Value", {})
        cores = sorted({c for by in crit.values() for c in by}, reverse=True)
        out.append("\nParse-only baseline, in-process (criterion, `cargo bench -p specgate-compiler "
                   "--bench load_compile`, median of 10 samples, same run), on both cores (the lint rules "
                   "run on two threads) and pinned to one:\n")
        head = ["measurement"]
        for c in cores:
            head += [f"time, {c} core{'s' if c > 1 else ''}", "÷ parse-only"]
        body = []
        for name, by in sorted(crit.items(), key=lambda kv: min(kv[1].values())):
            row = [name]
            for c in cores:
                secs = by.get(c)
                row += [f"{secs * 1000:.1f} ms" if secs else "—",
                        ratio(secs, parse[c]) if secs and parse.get(c) else "—"]
            body.append(row)
        out.append(table(head, body))
        facts["_criterion"] = crit
    return "\n".join(out), facts


def startup_section(results):
    raw = rows(results, "startup")
    if not raw:
        return None, {}
    by = {}
    for label, file, ms, rss_kb, hwm in raw:
        by.setdefault((label, file), []).append((float(ms), int(rss_kb), int(hwm)))
    body = []
    facts = {}
    for (label, file), xs in by.items():
        ms = statistics.median(x[0] for x in xs)
        rest = statistics.median(x[1] for x in xs)
        body.append([label, f"`{file}`", f"{ms:.0f} ms ({min(x[0] for x in xs):.0f}–{max(x[0] for x in xs):.0f})",
                     mib(rest), mib(max(x[2] for x in xs))])
        facts[label] = {"ms": ms, "rss": rest}
    return table(["start", "file", "to ready, median (min–max)", "RSS at rest (1 s after ready)",
                  "peak RSS"], body), facts


def targets_section(load, lint, start):
    body = []

    def add(name, measured, ok):
        body.append([name, measured, "—" if ok is None else ("met" if ok else "**not met**")])

    conc = max(load) if load else None
    s = load.get(conc, {})
    if s.get("full") and s.get("nginx"):
        r = s["full"]["rps"] / s["nginx"]["rps"]
        add(f"4 serves ≥ the req/s of 2 (c={conc})", f"{s['full']['rps']:,.0f} vs {s['nginx']['rps']:,.0f} ({r:.2f}×)", r >= 1)
        cpu = s["full"]["cpu_proxy"] / s["nginx"]["cpu_proxy"]
        add("(context) CPU per request of the proxy, 4 ÷ 2", f"{s['full']['cpu_proxy']:.3f} vs "
            f"{s['nginx']['cpu_proxy']:.3f} s per 10k requests ({cpu:.2f}×)", None)
    one = load.get(1, {})
    if one.get("full") and one.get("upstream"):
        d = one["full"]["p50"] - one["upstream"]["p50"]
        add("4 adds ≤ 50 µs p50 over 1 (c=1)", f"{d:+.0f} µs ({us(one['full']['p50'])} vs {us(one['upstream']['p50'])})", d <= 50)
    if one.get("validate") and one.get("upstream"):
        d = one["validate"]["p50"] - one["upstream"]["p50"]
        add("issue #4: 3 adds ≤ 50 µs p50 over 1 (c=1)", f"{d:+.0f} µs ({us(one['validate']['p50'])} vs {us(one['upstream']['p50'])})", d <= 50)
    for t in ("nginx", "hyper"):
        if one.get(t) and one.get("upstream"):
            d = one[t]["p50"] - one["upstream"]["p50"]
            add(f"(context) {TARGETS[t].split('. ')[1]} adds, p50 over 1 (c=1)", f"{d:+.0f} µs", None)
    stripe = lint.get("stripe__spec3.yaml", {})
    if stripe.get("speedup"):
        add("lint on Stripe ≥ 500× faster than Spectral + OWASP", f"{stripe['speedup']:,.0f}×", stripe["speedup"] >= 500)
    crit = lint.get("_criterion", {})
    parse = crit.get("parse: saphyr events into Value", {})
    full = crit.get("load + compile + lint (all rules)", {})
    both = max((c for c in full if c in parse), default=None)
    if both:
        measured = f"{full[both] / parse[both]:.2f}× in process on {both} core{'s' if both > 1 else ''}"
        if 1 in full and 1 in parse and both != 1:
            measured += f" (pinned to one core: {full[1] / parse[1]:.2f}×)"
        cli = stripe.get("specgate_wall")
        if cli:
            measured += f"; the CLI pinned to one core, process and output included: {cli / parse.get(1, parse[both]):.2f}×"
        add("lint < 1.5× parse-only (Stripe)", measured, full[both] / parse[both] < 1.5)
    if "largest, plan" in start:
        ms = start["largest, plan"]["ms"]
        add("ready < 300 ms, largest spec as a plan", f"{ms:.0f} ms", ms < 300)
    if "small, spec" in start:
        rss = start["small, spec"]["rss"]
        add("RSS at rest < 64 MB, small spec", f"{rss / 1024:.1f} MiB ({rss * 1024 / 1e6:.1f} MB)", rss * 1024 < 64e6)
    if "largest, plan" in start:
        rss = max(start[k]["rss"] for k in ("largest, plan", "largest, spec") if k in start)
        add("RSS at rest < 200 MB, largest spec", f"{rss / 1024:.1f} MiB ({rss * 1024 / 1e6:.1f} MB), the larger of plan and spec", rss * 1024 < 200e6)
    return table(["target (issue #7 unless named)", "measured", ""], body) if body else None


def main():
    results, output = Path(sys.argv[1]), Path(sys.argv[2])
    facts = {r[0]: r[1] for r in rows(results, "facts") if len(r) > 1}
    load_md, load = load_section(results, facts)
    lint_md, lint = lint_section(results)
    start_md, start = startup_section(results)
    targets_md = targets_section(load, lint, start)
    quick = facts.get("quick") == "1"
    largest = facts.get("largest", "the largest shared spec")

    doc = [
        "# Benchmarks",
        "",
        "Written by `bench/run` (issue #7); run it again to refresh this file. The machine is shared with "
        "other work (builds, tests), so absolute figures are noisy: compare the ratios, which come from "
        "the same run with the targets alternating.",
        "",
    ]
    if quick:
        doc += ["> **Quick run** (`--quick`): a few seconds per round, one round. Not for conclusions.", ""]
    doc += [
        "## Machine and run",
        "",
        table(["", ""], [
            ["date", facts.get("date", "?")],
            ["commit", facts.get("commit", "?")],
            ["CPU", f"{facts.get('cpu', '?')}, {facts.get('cores', '?')} cores at {facts.get('mhz', '?')} MHz"],
            ["memory, kernel", f"{facts.get('memory', '?')}, Linux {facts.get('kernel', '?')}"],
            ["load average before / after", f"{facts.get('load_before', '?')} / {facts.get('load_after', '?')}"],
            ["tools", ", ".join(f"{k} {facts[k]}" for k in ("rustc", "wrk", "nginx", "redis", "spectral") if k in facts)],
            ["command", f"`{facts.get('command', 'bench/run').strip()}`"],
            ["load", f"{facts.get('rounds')} rounds × ({facts.get('duration')} s at {facts.get('connections')} "
                     f"connections + {facts.get('latency_duration')} s at 1 connection) per target"],
        ]),
        "",
    ]
    if targets_md:
        doc += ["## Targets", "", targets_md, ""]
    if load_md:
        doc += [
            "## Proxying under load",
            "",
            "Every target gets the same request: `POST /orders` with a 1,023-byte JSON order "
            "(`bench/order.json`) and an `Authorization: Bearer` RS256 token, from `wrk -t1` with "
            "`bench/wrk.lua` (its `done` hook prints the percentiles). The upstream is "
            "`target/release/fixed-upstream`, which answers 200 with a fixed 24-byte JSON body.",
            "",
            "1. **upstream alone**: wrk straight to fixed-upstream.",
            "2. **nginx, plain proxy**: `proxy_pass` to an `upstream` block with `keepalive 64`, HTTP/1.1 "
            "to the upstream, `worker_processes 1`, access log on (to `/dev/null`, as specgate's).",
            "2b. **bare hyper proxy** (`tests/src/bin/bare-proxy.rs`, a reference, not one of issue #7's "
            "targets): the HTTP libraries of specgate's sidecar (hyper 1 on tokio's single-threaded "
            "runtime, one upstream connection per client connection) forwarding each request as it "
            "comes, with no check, log or header rewriting. What separates it from nginx is the cost of "
            "the HTTP stack; what separates specgate from it is specgate's own work.",
            "3. **specgate, validation only** (`bench/specs/validation.yaml`): route and the JSON body "
            "against its schema (`bench/specs/order-schema.yaml`: formats, patterns, enums, bounds); "
            "threats, bots and response headers switched off.",
            "4. **specgate, full policy** (`bench/specs/full.yaml`): RS256 JWT against a key set made at "
            "bench time (issuer, audience, scope, required claims, a claim forwarded), a per-caller rate "
            "limit in process (10⁹ per minute: never triggers, always counted), the body validated, the "
            "default threat detectors and bot list, the default hardened response headers and "
            "`RateLimit` headers.",
            "5. **the same with `--redis`**: the rate limit counted in a local `redis-server` (one Lua "
            "script call per request), `--rate-limit-fallback closed` so that a Redis failure would show "
            "as errors rather than silently falling back.",
            "",
            "Before measuring, the script checks that every target answers 200, that 4 and 5 set the "
            "security and rate-limit headers and refuse a request without a token (401), that 2b and 3 set "
            "no security header, and that Redis holds specgate's rate-limit keys. specgate runs from "
            "compiled plans; its access log (one JSON line per request) goes to `/dev/null`.",
            "",
            "**Pinning.** The machine has 2 cores. `wrk` runs on CPU 0 (`taskset -c 0`); every server "
            "(fixed-upstream, nginx's master and worker, bare-proxy, specgate, redis-server) runs on CPU 1 "
            "(`taskset -c 1`), so the load generator never takes the servers' core and vice versa. A "
            "proxy therefore shares CPU 1 with the upstream it forwards to, exactly as nginx does in 2: "
            "every proxy has the same budget. nginx gets one worker because it has one core: more "
            "workers would only take turns on it. specgate sizes its runtime to the CPUs it may run on "
            "(`--threads` unset), which `taskset` makes one: a single-threaded runtime, as nginx's one "
            "worker.",
            "",
            load_md,
            "",
        ]
    if lint_md:
        doc += [
            "## Lint",
            "",
            f"`specgate lint --format json` against Spectral {facts.get('spectral', '6')} with "
            "`extends: [\"@stoplight/spectral-owasp-ruleset\"]` (`spectral lint --format json`), both "
            "pinned to CPU 1, on Stripe's spec and on the largest other shared spec (Stripe is itself "
            f"the largest: `{largest}`). Wall time from start to exit; peak RSS from `/usr/bin/time -v`. "
            "specgate is run several times (median shown), Spectral once per spec (it takes minutes).",
            "",
            lint_md,
            "",
            "The parse-only baseline turns the YAML's events into a `serde_json::Value` with the same "
            "parser (saphyr), with no positions, checks or limits: the least any tool that reads the "
            "file must do. The lint target compares `load + compile + lint (all rules)` with it, in the "
            "same process and run; parse-only is single-threaded, the lint rules share two threads.",
            "",
        ]
    if start_md:
        doc += [
            "## Start-up",
            "",
            f"`specgate run` pinned to CPU 1; time from just before the process is started to the "
            f"`specgate listening on` line on its standard error (printed once the plan is loaded and "
            f"the socket bound); RSS is `VmRSS` one second later. The plan of `{largest}` was made with "
            f"`specgate compile` in {facts.get('compile_largest_s', '?')} s "
            f"({int(facts.get('plan_bytes', 0)) / 1e6:.1f} MB of JSON).",
            "",
            start_md,
            "",
        ]
    conns, secs = facts.get("connections", "32"), facts.get("duration", "20")
    doc += [
        "## Commands",
        "",
        "What `bench/run` starts (paths shortened; `$T` is a fresh temporary folder):",
        "",
        "```sh",
        "cargo build --release -p specgate -p specgate-tests",
        "openssl genrsa -traditional -out $T/bench-key.pem 2048",
        "target/release/bench-token $T/bench-key.pem $T/bench-jwks.json https://idp.bench.example/ bench-api",
        "specgate compile $T/full.yaml -o $T/full.plan.json     # and validation.yaml, copied from bench/specs",
        "taskset -c 1 fixed-upstream 127.0.0.1:0",
        "taskset -c 1 nginx -p $T/nginx -c $T/nginx/nginx.conf  # worker_processes 1, keepalive 64",
        "taskset -c 1 bare-proxy 127.0.0.1:0 UPSTREAM",
        "taskset -c 1 redis-server --port P --save '' --appendonly no",
        "taskset -c 1 specgate run --plan $T/validation.plan.json --upstream http://UPSTREAM --listen 127.0.0.1:0",
        "taskset -c 1 specgate run --plan $T/full.plan.json --upstream http://UPSTREAM --listen 127.0.0.1:0",
        "taskset -c 1 specgate run --plan $T/full.plan.json --upstream http://UPSTREAM --listen 127.0.0.1:0 \\",
        "    --redis redis://127.0.0.1:P --rate-limit-fallback closed",
        f"taskset -c 0 wrk -t1 -c{conns} -d{secs}s --timeout 5s -s bench/wrk.lua http://TARGET/orders   # and -c1",
        "taskset -c 1 specgate lint --format json SPEC",
        "taskset -c 1 spectral lint --ruleset owasp.yaml --format json --output OUT --quiet SPEC",
        "cargo bench -p specgate-compiler --bench load_compile",
        "taskset -c 1 specgate run --plan|--spec FILE --upstream http://127.0.0.1:9 --listen 127.0.0.1:0",
        "```",
        "",
        "## How to run",
        "",
        "```sh",
        "bench/run                 # everything, as above (about 20 minutes here)",
        "bench/run --quick         # a few seconds per round; writes target/bench/BENCHMARKS-quick.md",
        "bench/run --skip-spectral # everything but the Spectral comparison",
        "bench/run --skip-lint --skip-startup --duration 10 --rounds 2   # load only",
        "```",
        "",
        "Options: `--duration S` and `--latency-duration S` per round, `--rounds N`, `--connections C`, "
        "`--skip-load`, `--skip-lint`, `--skip-spectral`, `--skip-startup`, `--output FILE`. Missing tools "
        "are installed from Debian (wrk, nginx-light, redis-server) and npm (Spectral, into "
        "`target/bench-tools/`). Per-request engine costs: `cargo bench -p specgate-runtime --bench check` "
        "and `--bench jwt`.",
        "",
    ]
    output.write_text("\n".join(doc))
    print("\n".join(part for part in (targets_md, load_md, lint_md, start_md) if part))
    print(f"\nwritten: {output}")


if __name__ == "__main__":
    main()
