"""Writes BENCHMARKS.md (to stdout) from the measurements bench.sh left in a directory.

Every number in the file comes from that run, except the prices, whose sources and
the date they were read are in PRICES, and the assumptions the cost table names.
"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

OUT = sys.argv[1]
FUNCTIONS = ["register", "login", "send-code", "verify-code", "manage-settings"]
# template.yaml: MemorySize per function (Globals: 512).
MEMORY_MB = {"register": 1024, "login": 1024, "send-code": 512, "verify-code": 1024, "manage-settings": 1024}
LIMIT_STRIPPED, LIMIT_ZIPPED = 10_000_000, 4_000_000
KEYCLOAK_PER_VCPU = 15

# us-east-1 list prices, as published; read 2026-11-22 through the search tool's pages/docs corpora.
PRICES = {
    "lambda_arm_gb_s": (0.0000133334, "Lambda arm64 duration, per GB-second (first 7.5 billion GB-s a month)",
                        "https://aws.amazon.com/lambda/pricing/ (init is billed too); arm64 rate as quoted by https://cloudchipr.com/blog/aws-lambda-pricing"),
    "lambda_request": (0.20 / 1e6, "Lambda requests, $0.20 per million", "https://aws.amazon.com/lambda/pricing/"),
    "http_api_request": (1.00 / 1e6, "API Gateway HTTP API, $1.00 per million (first 300 million a month)",
                         "https://aws.amazon.com/api-gateway/pricing/ and https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html"),
    "ddb_rru": (0.125 / 1e6, "DynamoDB on-demand, $0.125 per million read request units",
                "https://airbyte.com/data-engineering-resources/dynamodb-pricing (the Nov 2024 price; AWS News Blog post on on-demand, updated 2025-01-31)"),
    "ddb_wru": (0.625 / 1e6, "DynamoDB on-demand, $0.625 per million write request units", "same"),
    "ses_email": (0.10 / 1000, "SES outbound email, $0.10 per 1,000", "https://www.acecloudinterviews.com/tutorials/aws/ses/ (AWS's SES pricing page was not in the corpus)"),
}
COGNITO = [  # per MAU above the free tier
    ("Lite", 0.0055, "first 10,000 MAU free"),
    ("Essentials (the default plan; needed for email MFA)", 0.015, "first 10,000 MAU free"),
    ("Plus", 0.020, "no free tier"),
]
COGNITO_SOURCE = ("https://aws.amazon.com/cognito/pricing/, as transcribed on 2026-09-20 in "
                  "https://raw.githubusercontent.com/api-evangelist/amazon-cognito/refs/heads/main/plans/amazon-cognito-plans-pricing.yml; read 2026-11-22")
KEYCLOAK_SOURCE = "https://www.keycloak.org/high-availability/single-cluster/concepts-memory-and-cpu-sizing (read 2026-11-22)"


def read(name, default=""):
    path = os.path.join(OUT, name)
    return open(path).read() if os.path.exists(path) else default


def pairs(name):
    """Lines of `name value...` with integer values; other lines (e.g. GNU time's exit notes) are skipped."""
    out = {}
    for line in read(name).splitlines():
        words = line.split()
        if len(words) > 1 and all(w.isdigit() for w in words[1:]):
            out[words[0]] = [int(w) for w in words[1:]]
    return out


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def spread(xs):
    """Median and the interquartile range, as text."""
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return statistics.median(xs), q[0], q[2]


def mb(n):
    return f"{n:,} B ({n / 1e6:.1f} MB)"


def money(x):
    return f"${x:,.2f}" if x >= 0.01 else f"${x:,.4f}"


now = datetime.datetime.fromtimestamp(int(read("ended").strip() or 0) or datetime.datetime.now().timestamp(),
                                     datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
cores = os.cpu_count()
mem = sh("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo")
# `label 1-min 5-min 15-min` lines, one at the start of each section (bench.sh `load`).
loads = [line.split() for line in read("load.txt").splitlines() if len(line.split()) == 4]
started = int(read("started").strip() or 0)
took_s = int(read("ended").strip() or 0) - started if started else 0
# The commit the binaries were built from: bench.sh notes it before building.
commit = read("commit").strip() or sh("git rev-parse --short HEAD")
rustc = sh("rustc --version")
p = print

p()
p(f"Written by `bash infra/scripts/bench.sh` on {now}, at commit {commit} (plus the working tree), {rustc}.")
peak = max([float(x[1]) for x in loads] + [os.getloadavg()[0]])
p(f"Machine: {cpu}, {cores} cores, {mem}, {platform.system()} {platform.machine()}. "
  f"The run took {took_s // 60} min {took_s % 60} s, release builds included. "
  f"Load average (1 min) up to {peak:.1f} on {cores} cores"
  + (": wall times carry the noise of that load; the ratios measured side by side, the instruction counts "
     "and the CPU-time figures much less so."
     if peak > cores else "."))
if loads:
    p()
    p("| load average at | 1 min | 5 min | 15 min |")
    p("|---|---:|---:|---:|")
    for label, one, five, fifteen in loads:
        p(f"| {label} | {one} | {five} | {fifteen} |")
p()
p("Measurements, not tests: nothing here is asserted by the test suite. Every comparison ran side by side in this one run.")
p()

# 1. Cold start
p("## 1. Cold start: init beside a hello-world function")
p()
p("`tests/src/bin/coldstart.rs` is a local Lambda Runtime API: it starts a bootstrap with the environment a deployed "
  "function has (template.yaml's variables, SES and SNS chosen, so every client is built) and times `exec` to the "
  "first `GET /2018-06-01/runtime/invocation/next`, which is what Lambda reports as init. The first row is "
  "`tests/src/bin/hello-lambda.rs`, the smallest `lambda_http` function, built with the same release profile; the "
  "bootstraps start in turns so load on the machine falls on all alike. Target: every function at most 1.5x hello world.")
p()
p(read("coldstart.md").strip())
p()
ins = pairs("instructions.txt")
rss = pairs("rss.txt")
if ins:
    base = ins.get("hello-lambda", [0])[0] or 1
    p("Instructions executed from `exec` until the bootstrap asks for its first event (valgrind `callgrind`, Runtime API at a "
      "closed port, so the process exits there), which other work on the machine cannot disturb, and peak resident memory:")
    p()
    p("| bootstrap | instructions | / hello-lambda | peak RSS |")
    p("|---|---:|---:|---:|")
    for name in ["hello-lambda"] + FUNCTIONS:
        if name in ins:
            p(f"| {name} | {ins[name][0]:,} | {ins[name][0] / base:.2f}x | {rss.get(name, [0])[0] / 1024:.1f} MiB |")
    p()
p("Why init is this small, and what it does: the section \"Cold start and size\" below the measured part.")
p()

# 2. Sizes
sizes = pairs("sizes.txt")
p("## 2. Bootstrap sizes")
p()
p("Each bootstrap as the release profile leaves it (`strip = true`), and `zip -9` of it alone, about what Lambda "
  f"stores. Targets for arm64: at most {LIMIT_STRIPPED / 1e6:.0f} MB stripped and {LIMIT_ZIPPED / 1e6:.0f} MB zipped.")
p()
p("| bootstrap | stripped | zipped |")
p("|---|---:|---:|")
for name in ["hello-lambda"] + FUNCTIONS:
    if name in sizes:
        s, z = sizes[name]
        p(f"| {name} | {mb(s)} | {mb(z)} |")
p()
arm = pairs("sizes-arm64.txt")
if arm:
    p(f"arm64, as `sam build` makes them (`cargo lambda build --release --arm64`, which links with zig and adds "
      f"`-C target-cpu=neoverse-n1`), built in {read('arm64-build.seconds').strip() or '?'} s:")
    p()
    p("| function | stripped | zipped | within the targets |")
    p("|---|---:|---:|---|")
    for name in FUNCTIONS:
        if name in arm:
            s_, z_ = arm[name]
            ok = "yes" if s_ <= LIMIT_STRIPPED and z_ <= LIMIT_ZIPPED else "**no**"
            p(f"| {name} | {mb(s_)} | {mb(z_)} | {ok} |")
    p()
else:
    p(f"These are **x86_64** ({platform.machine()}) builds; `ARM64=1 bash infra/scripts/bench.sh` adds the arm64 "
      "bootstraps as `sam build` makes them: `rustup target add aarch64-unknown-linux-gnu` and cargo-lambda from "
      "PyPI (its wheel brings zig, the cross linker; no cross gcc is needed), then "
      "`cargo lambda build --release --arm64`, a second whole release build.")
    p()
p("cargo-lambda also adds `profile.release.panic=\"abort\"` unless the profile names a panic strategy; the "
  "workspace says `panic = \"unwind\"`, because lambda_runtime answers a panicking invocation with an error "
  "(`catch_unwind`) and keeps the warm environment, where an abort would end it.")
p()

# 3. Handlers
p("## 3. Handler latency in-process, and store reads per request")
p()
p("`tests/src/bin/bench.rs` over the embedded store, release build. What dominates is Argon2id at OWASP's parameters, "
  "on purpose: a wrong password costs an attacker as much as a right one, and an unknown email costs the same as a "
  "known one (the dummy hash). The one slow unknown-email login is the first: it makes the dummy hash.")
p()
p(read("handlers.md").strip())
p()
p("`tests/tests/it/round_trips.rs` counts every request the SDK sends to DynamoDB Local and asserts the counts; "
  "`shared/src/store/dynamo/mod.rs` explains each.")
p()

# 5 first: the Argon2 figures feed the bound of 4.
rust = [json.loads(read(f"argon2-rust-{r}.json") or "{}") for r in (1, 2, 3)]
c = [json.loads(read(f"argon2-c-{r}.json") or "{}") for r in (1, 2, 3)]
rust, c = [x for x in rust if x], [x for x in c if x]
rust_cpu = sum(x["cpu_ms"] for x in rust) / max(1, sum(x["hashes"] for x in rust))
c_cpu = sum(x["cpu_ms"] for x in c) / max(1, sum(x["hashes"] for x in c))
rust_wall = spread([w for x in rust for w in x["wall_ms"]]) if rust else (0, 0, 0)
c_wall = spread([w for x in c for w in x["wall_ms"]]) if c else (0, 0, 0)

# 4. Throughput
p("## 4. Password sign-ins per second per core")
p()
p("The local API (`infra/local-api`, release) over DynamoDB Local, pinned to CPU 0; `wrk` (Debian's) on CPU 1 "
  "posts `/login` for one user with 2FA off (`infra/scripts/bench/login.lua`). A sign-in is the Argon2 check, the "
  "three DynamoDB reads and the tokens. Per core = sign-ins per CPU-second the local API used (utime + stime from "
  "`/proc`, which counts neither DynamoDB Local nor other work on the machine). The Argon2 bound is 1 / the CPU "
  "time of one hash at the configured parameters (section 5), on the same CPU. Target: at least 90% of the bound.")
p()
bound = 1000.0 / rust_cpu if rust_cpu else 0
p("| connections | sign-ins | wall s | sign-ins/s (wall) | API CPU s | sign-ins per CPU-second | of the Argon2 bound | p50 ms | p99 ms | errors |")
p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for conns in (1, 2):
    w = read(f"wrk-{conns}.json").strip()
    if not w:
        continue
    w = json.loads(w)
    ticks = int(read(f"wrk-{conns}.ticks").strip() or 0)
    cpu_s = ticks / 100.0
    per_cpu = w["requests"] / cpu_s if cpu_s else 0
    wall_s = w["duration_us"] / 1e6
    p(f"| {conns} | {w['requests']} | {wall_s:.1f} | {w['requests'] / wall_s:.1f} | {cpu_s:.2f} | {per_cpu:.1f} | "
      f"{per_cpu / bound * 100 if bound else 0:.0f}% | {w['p50_us'] / 1000:.1f} | {w['p99_us'] / 1000:.1f} | "
      f"{w['not_2xx'] + w['socket_errors']} |")
p()
p(f"Argon2 bound on this CPU: {bound:.1f} sign-ins per CPU-second ({rust_cpu:.2f} ms of CPU a hash). "
  f"Keycloak documents about {KEYCLOAK_PER_VCPU} password logins per second per vCPU "
  f"({KEYCLOAK_SOURCE}): the bound here is {bound / KEYCLOAK_PER_VCPU:.1f}x that. Keycloak's default hashing "
  "differs (PBKDF2 or Argon2 by version), so this compares deployments, not algorithms. With one connection the "
  "core idles while DynamoDB Local answers; with two it is kept busy, and the p50 then includes waiting for the "
  "other request's hash.")
p()

# 5. Argon2
p("## 5. Argon2id against the C reference")
p()
p("OWASP's parameters (Argon2id, m = 19456 KiB, t = 2, p = 1, 16-byte salt, 32-byte tag): `bench argon2` (the "
  f"`argon2` crate, RustCrypto's, from crates.io as the handlers use it) and argon2-cffi {read('argon2-cffi.version').strip()} "
  "(the reference C implementation, `infra/scripts/bench/argon2_cffi.py`), 10 hashes each, alternating 3 times on CPU 0.")
p()
p("| implementation | hashes | CPU ms a hash | wall median ms (IQR) |")
p("|---|---:|---:|---:|")
p(f"| Rust `argon2` | {sum(x['hashes'] for x in rust)} | {rust_cpu:.2f} | {rust_wall[0]:.2f} ({rust_wall[1]:.2f}–{rust_wall[2]:.2f}) |")
p(f"| C reference (argon2-cffi) | {sum(x['hashes'] for x in c)} | {c_cpu:.2f} | {c_wall[0]:.2f} ({c_wall[1]:.2f}–{c_wall[2]:.2f}) |")
p()
ratio = rust_cpu / c_cpu if c_cpu else 0
p(f"Rust / C: **{ratio:.2f}x** in CPU time, {rust_wall[0] / c_wall[0] if c_wall[0] else 0:.2f}x in median wall time.")
p()
p("On arm64 (Graviton, where the functions are deployed), not measured here: both implementations fall back to portable "
  "64-bit code there (argon2-cffi's bundled C and the `argon2` crate have SIMD paths for x86 only), and Argon2 is bound by memory bandwidth and 64-bit multiplies. Expect a hash on one Graviton2 core to take roughly 1.2x to 1.5x its "
  "x86 time here, and a Lambda function gets a whole vCPU only at 1769 MB: at the 1024 MB login and register have, "
  "a hash takes about 1769/1024 = 1.7x longer than on a whole core. That is the duration the cost table uses.")
p()

# 6. Cost
units = json.loads(read("units.json") or "{}")
p("## 6. What a million two-factor sign-ins cost on AWS, beside Cognito")
p()
p("A two-factor sign-in is `POST /login` (password; answers with a two-factor token), `POST /send-code` (a code by "
  "email through SES) and `POST /verify-code`. DynamoDB requests and request units, counted by `bench units` on "
  "DynamoDB Local from each request the SDK sent (strongly consistent reads; every item under 1 KB):")
p()
p("| request | DynamoDB requests | read units | write units |")
p("|---|---|---:|---:|")
for name in ("login", "send-code", "verify-code"):
    u = units.get(name, {})
    p(f"| {name} | {', '.join(u.get('requests', []))} | {u.get('rru', 0):g} | {u.get('wru', 0):g} |")
rru = sum(units.get(n, {}).get("rru", 0) for n in units)
wru = sum(units.get(n, {}).get("wru", 0) for n in units)
ddb_requests = {n: len(units.get(n, {}).get("requests", [])) for n in ("login", "send-code", "verify-code")}
p()
# Durations: the measured handler work (in-process, one whole x86 core), scaled to the CPU share Lambda gives at
# each function's memory, plus the network waits the in-process run does not have (assumed, named below).
handlers = {}
for line in read("handlers.md").splitlines():
    cells = [x.strip() for x in line.strip("|").split("|")]
    if len(cells) == 5 and cells[1].isdigit():
        handlers[cells[0]] = float(cells[2])
login_ms = handlers.get("POST /login (2FA off)", 0.0)
flow_ms = handlers.get("login + send-code + verify-code (email)", 0.0)
rest_ms = max(flow_ms - login_ms, 0.0) / 2
DDB_MS, SES_MS = 5.0, 40.0
durations = {
    # The policy and the email key are read concurrently: one request fewer in sequence.
    "login": login_ms * 1769 / MEMORY_MB["login"] + DDB_MS * (ddb_requests["login"] - 1),
    "send-code": rest_ms * 1769 / MEMORY_MB["send-code"] + DDB_MS * ddb_requests["send-code"] + SES_MS,
    "verify-code": rest_ms * 1769 / MEMORY_MB["verify-code"] + DDB_MS * ddb_requests["verify-code"],
}
gb_s = sum(durations[f] / 1000 * MEMORY_MB[f] / 1024 for f in durations)
N = 1_000_000
lines = [
    ("Lambda requests (3 a sign-in)", 3 * N * PRICES["lambda_request"][0]),
    (f"Lambda arm64 duration ({gb_s * N:,.0f} GB-s)", gb_s * N * PRICES["lambda_arm_gb_s"][0]),
    ("API Gateway HTTP API requests (3 a sign-in)", 3 * N * PRICES["http_api_request"][0]),
    (f"DynamoDB on-demand ({rru:g} RRU + {wru:g} WRU a sign-in)", N * (rru * PRICES["ddb_rru"][0] + wru * PRICES["ddb_wru"][0])),
    ("SES (one email a sign-in)", N * PRICES["ses_email"][0]),
]
total = sum(x for _, x in lines)
p("Billed duration per function: the handler's measured work in-process (section 3: login "
  f"{login_ms:.1f} ms; send-code and verify-code {rest_ms:.1f} ms each), scaled by 1769 MB / memory size for the "
  f"share of a vCPU Lambda gives, plus waits the in-process run does not have, which are assumptions: {DDB_MS:.0f} ms "
  f"a DynamoDB round trip in sequence and {SES_MS:.0f} ms for SES's `SendEmail`. So login "
  f"{durations['login']:.0f} ms at 1024 MB, send-code {durations['send-code']:.0f} ms and verify-code "
  f"{durations['verify-code']:.0f} ms at 512 MB; measured x86 work stands in for arm64 (section 5). No free tiers; "
  "cold starts and SMS are left out (SMS is priced per country and dwarfs everything else).")
p()
p("| per 1,000,000 two-factor sign-ins (email code) | cost |")
p("|---|---:|")
for label, cost in lines:
    p(f"| {label} | {money(cost)} |")
p(f"| **total** | **{money(total)}** |")
p()
p("Amazon Cognito bills per monthly active user (MAU), whatever the number of sign-ins, and email codes through SES "
  "cost the same there. The same million sign-ins:")
p()
p("| Cognito plan | per MAU | 1 sign-in per user a month (1,000,000 MAU) | 10 a month (100,000 MAU) | twofa, same sign-ins |")
p("|---|---:|---:|---:|---:|")
for plan, price, free in COGNITO:
    p(f"| {plan} ({free}) | ${price} | {money(N * price)} | {money(N / 10 * price)} | {money(total)} |")
p()
p("Free tiers are left out on both sides (the Cognito prices above apply beyond them). Prices are us-east-1 list "
  "prices, read on 2026-11-22:")
p()
for key, (price, label, source) in PRICES.items():
    p(f"- {label}: {source}")
p(f"- Cognito per-MAU prices: {COGNITO_SOURCE}")
