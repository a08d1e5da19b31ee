#!/usr/bin/env python3
"""Run the vouch benchmarks and write docs/benchmarks.md (`make bench`).

Usage: run_bench.py BUILD_DIR [OUTPUT_MARKDOWN]

Everything runs on this machine, on 127.0.0.1, in one run, so that the
figures can be read as ratios:
  1. vouch_verify_benchmark (Google Benchmark): SEV-SNP and TDX verification
     against raw OpenSSL ECDSA verification.
  2. A real `vouch serve` (SQLite store, simulated SEV-SNP allowed) driven by
     wrk from a second process: attestation and key release rates and
     latency percentiles at several concurrency levels, and the p99 at about
     half of the peak release rate. The release runs are repeated on a
     second server whose token signing key is EC P-256 (ES256), against the
     default RSA-3072 (RS256).
  3. Resident size of the server from /proc/<pid>/status during that load,
     and heap allocation calls per release counted with heaptrack.
  4. Release latency while the store grows: keys from 10 to 1,000,000,
     1,000,000 outstanding nonces, 1,000,000 extra audit records (filled
     directly into the stopped server's SQLite file by vouch_bench_fill).
Text after the ANALYSIS_MARKER line of an existing output file is kept, so
the hand-written analysis survives a new run.
"""

import json
import os
import platform
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ANALYSIS_MARKER = "<!-- Hand-written analysis below: scripts/bench.sh keeps this part. -->"
SECONDS = int(os.environ.get("VOUCH_BENCH_SECONDS", "5"))
RELEASE_CONCURRENCY = [1, 2, 4, 8, 16, 32, 64]
ATTEST_CONCURRENCY = [1, 4, 16, 64]
# Store sizes for the growth runs: (filler keys, outstanding nonces, audit records).
GROWTH_STEPS = [
    (10, 0, 0),
    (1_000, 0, 0),
    (100_000, 0, 0),
    (1_000_000, 0, 0),
    (1_000_000, 1_000_000, 0),
    (1_000_000, 1_000_000, 1_000_000),
]
# VOUCH_BENCH_GROWTH_MAX drops the growth steps above that many keys, nonces
# or audit records, for a quick trial run.
GROWTH_MAX = int(os.environ.get("VOUCH_BENCH_GROWTH_MAX", "1000000"))
GROWTH_STEPS = [s for s in GROWTH_STEPS if max(s) <= GROWTH_MAX]
BENCH_KEY = "bench"
ISSUER = "http://vouch.bench.invalid"  # written into tokens, never contacted


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


class Server:
    """A `vouch serve` child process on 127.0.0.1 with a free port."""

    def __init__(self, vouch, work, data_dir, heaptrack_output=None, extra_args=()):
        self.work = work
        port_file = os.path.join(work, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        args = [
            vouch, "serve",
            "--listen", "127.0.0.1:0",
            "--port-file", port_file,
            "--data-dir", data_dir,
            "--admin-token-file", os.path.join(work, "admin-token"),
            "--allow-simulated-snp",
            "--issuer", ISSUER,
            "--token-lifetime", "3600",
            "--threads", "2",
        ] + list(extra_args)
        if heaptrack_output:
            args = ["heaptrack", "-o", heaptrack_output] + args

        self.log_path = os.path.join(work, "server.log")
        started = time.monotonic()
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(args, stdout=log_file, stderr=log_file)
        deadline = started + 120
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"vouch serve did not start within 120 s: see {self.log_path}")
            time.sleep(0.02)
        self.start_seconds = time.monotonic() - started

        self.port = int(open(port_file).read().strip())
        self.url = f"http://127.0.0.1:{self.port}"
        self.pid = self.process.pid
        if heaptrack_output:
            self.pid = self._vouch_child(self.process.pid)

    @staticmethod
    def _vouch_child(parent):
        """Returns the pid of the vouch process that heaptrack started."""
        for _ in range(500):
            for task in os.listdir(f"/proc/{parent}/task"):
                children = open(f"/proc/{parent}/task/{task}/children").read().split()
                for child in children:
                    if open(f"/proc/{child}/comm").read().strip() == "vouch":
                        return int(child)
            time.sleep(0.02)
        raise RuntimeError("heaptrack started no vouch process")

    def status(self):
        """Returns VmRSS and VmHWM of the server in KiB."""
        fields = {}
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    fields[name] = int(value.split()[0])
        return fields

    def stop(self):
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait()


def run(args, **kwargs):
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)


def wrk(url, body_file, connections, seconds=SECONDS, delay_ms=0):
    """Runs wrk with bench/wrk_post.lua and returns its JSON summary."""
    env = dict(os.environ, VOUCH_BENCH_BODY=body_file, VOUCH_BENCH_DELAY_MS=str(delay_ms))
    threads = min(2, connections)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk_post.lua")
    out = run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", "10s", "-s", script, url], env=env).stdout
    match = re.search(r"^vouch-bench (\{.*\})$", out, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    result = json.loads(match.group(1))
    result["connections"] = connections
    result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def sample_memory(server, stop_event, samples):
    while not stop_event.is_set():
        try:
            samples.append(server.status()["VmRSS"])
        except (OSError, KeyError):
            pass
        stop_event.wait(0.25)


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "memory_gib": total_kib / 1024 / 1024,
        "load": os.getloadavg(),
    }


def micro_benchmarks(build):
    binary = os.path.join(build, "bench", "vouch_verify_benchmark")
    out = os.path.join(tempfile.gettempdir(), f"vouch-verify-{os.getpid()}.json")
    command = [binary, "--benchmark_min_time=1", "--benchmark_repetitions=3",
               "--benchmark_report_aggregates_only=true", "--benchmark_format=json",
               f"--benchmark_out={out}"]
    log("verification micro-benchmarks")
    run(command)
    with open(out) as f:
        data = json.load(f)
    os.unlink(out)
    medians = {}
    for entry in data["benchmarks"]:
        if entry.get("aggregate_name") == "median":
            medians[entry["run_name"]] = entry
    return medians, " ".join(os.path.relpath(c) if c == binary else c for c in command[:5])


def http_benchmarks(build, work):
    vouch = os.path.join(build, "src", "vouch", "cli", "vouch")
    client = os.path.join(build, "bench", "vouch_bench_client")
    fill = os.path.join(build, "bench", "vouch_bench_fill")
    data_dir = os.path.join(work, "data")
    admin_token = secrets.token_hex(16)
    with open(os.path.join(work, "admin-token"), "w") as f:
        f.write(admin_token)
    os.chmod(os.path.join(work, "admin-token"), 0o600)
    results = {}

    log("starting vouch serve")
    server = Server(vouch, work, data_dir)
    results["first_start_seconds"] = server.start_seconds
    run([client, "setup", server.url, data_dir, admin_token, BENCH_KEY, work])
    attest_body = os.path.join(work, "attest.json")
    release_body = os.path.join(work, "release.json")
    release_url = f"{server.url}/keys/{BENCH_KEY}/release"
    attest_url = f"{server.url}/attest/SevSnpVm"

    results["idle_rss_kib"] = server.status()["VmRSS"]
    samples = []
    stop_event = threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(server, stop_event, samples))
    sampler.start()
    results["release"] = []
    for connections in RELEASE_CONCURRENCY:
        log(f"release, {connections} connections")
        results["release"].append(wrk(release_url, release_body, connections))
    results["attest"] = []
    for connections in ATTEST_CONCURRENCY:
        log(f"attest, {connections} connections")
        results["attest"].append(wrk(attest_url, attest_body, connections))
    stop_event.set()
    sampler.join()
    results["load_rss_kib_max"] = max(samples) if samples else 0
    results["hwm_kib"] = server.status()["VmHWM"]

    # p99 at about half of the peak release rate: each of 16 connections
    # waits between requests so that together they send at most half the
    # peak (less by the time each request takes).
    peak = max(r["rate"] for r in results["release"])
    connections = 16
    delay_ms = max(1, round(connections * 1000 / (peak / 2)))
    log(f"release at about half of the peak rate ({peak / 2:.0f}/s), delay {delay_ms} ms")
    half = wrk(release_url, release_body, connections, seconds=max(SECONDS, 10),
               delay_ms=delay_ms)
    half["delay_ms"] = delay_ms
    results["half_peak"] = half
    server.stop()

    results["es256"] = es256_release_benchmarks(vouch, client, work)

    results["allocations"] = heap_allocations(vouch, client, work, data_dir, release_url,
                                              release_body)

    results["growth"] = []
    db = os.path.join(data_dir, "vouch.db")
    for keys, nonces, audit in GROWTH_STEPS:
        with sqlite3.connect(db) as connection:
            audit_now = connection.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        # Filler keys are counted on top of the bench key. The audit target
        # adds records to those that the earlier runs wrote.
        audit_target = audit_now + audit if audit else 0
        log(f"growth: filling to {keys} keys, {nonces} nonces, audit +{audit}")
        started = time.monotonic()
        run([fill, db, BENCH_KEY, str(keys - 1), str(nonces), str(audit_target)])
        fill_seconds = time.monotonic() - started
        server = Server(vouch, work, data_dir)
        run([client, "token", server.url, work])
        with sqlite3.connect(db) as connection:
            counts = {
                "keys": connection.execute("SELECT count(*) FROM keys").fetchone()[0],
                "nonces": connection.execute("SELECT count(*) FROM nonces").fetchone()[0],
                "audit": connection.execute("SELECT count(*) FROM audit_log").fetchone()[0],
            }
        result = wrk(f"{server.url}/keys/{BENCH_KEY}/release", release_body, 4)
        result.update(counts)
        result["fill_seconds"] = fill_seconds
        result["start_seconds"] = server.start_seconds
        result["db_mib"] = os.path.getsize(db) / 1024 / 1024
        results["growth"].append(result)
        server.stop()
    return results


def release_series(release_url, release_body):
    """Releases at RELEASE_CONCURRENCY, then at about half of the peak rate:
    each of 16 connections waits between requests so that together they send
    at most half the peak (less by the time each request takes)."""
    series = []
    for connections in RELEASE_CONCURRENCY:
        log(f"release, {connections} connections")
        series.append(wrk(release_url, release_body, connections))
    peak = max(r["rate"] for r in series)
    connections = 16
    delay_ms = max(1, round(connections * 1000 / (peak / 2)))
    log(f"release at about half of the peak rate ({peak / 2:.0f}/s), delay {delay_ms} ms")
    half = wrk(release_url, release_body, connections, seconds=max(SECONDS, 10),
               delay_ms=delay_ms)
    half["delay_ms"] = delay_ms
    return series, half


def es256_release_benchmarks(vouch, client, work):
    """Runs release_series on a fresh server whose token key is EC P-256."""
    es_work = os.path.join(work, "es256")
    os.makedirs(es_work)
    admin_token = secrets.token_hex(16)
    with open(os.path.join(es_work, "admin-token"), "w") as f:
        f.write(admin_token)
    os.chmod(os.path.join(es_work, "admin-token"), 0o600)
    data_dir = os.path.join(es_work, "data")
    log("starting vouch serve --signing-key-type ec-p256")
    server = Server(vouch, es_work, data_dir, extra_args=("--signing-key-type", "ec-p256"))
    try:
        run([client, "setup", server.url, data_dir, admin_token, BENCH_KEY, es_work])
        release_url = f"{server.url}/keys/{BENCH_KEY}/release"
        series, half = release_series(release_url, os.path.join(es_work, "release.json"))
    finally:
        server.stop()
    return {"release": series, "half_peak": half}


def heaptrack_calls(path):
    out = run(["heaptrack_print", "--print-peaks", "0", "--print-allocators", "0",
               "--print-temporary", "0", "--print-leaks", "0", "-f", path]).stdout
    match = re.search(r"calls to allocation functions: (\d+)", out)
    if not match:
        raise RuntimeError(f"heaptrack_print printed no allocation count for {path}")
    return int(match.group(1))


def heap_allocations(vouch, client, work, data_dir, release_url, release_body):
    """Counts allocation calls per release: a heaptrack run with releases
    minus one that only starts, attests once and stops."""
    if shutil.which("heaptrack") is None:
        return None
    counts = {}
    requests = 0
    for name in ("idle", "load"):
        log(f"heaptrack run: {name}")
        output = os.path.join(work, f"heaptrack-{name}")
        server = Server(vouch, work, data_dir, heaptrack_output=output)
        url = release_url.replace(release_url.split("/keys/")[0], server.url)
        run([client, "token", server.url, work])
        if name == "load":
            result = wrk(url, release_body, 4, seconds=3)
            requests = result["requests"]
        server.stop()
        files = [f for f in os.listdir(work) if f.startswith(f"heaptrack-{name}")]
        counts[name] = heaptrack_calls(os.path.join(work, sorted(files)[0]))
    return {
        "idle_calls": counts["idle"],
        "load_calls": counts["load"],
        "requests": requests,
        "per_release": (counts["load"] - counts["idle"]) / max(1, requests),
    }


def fmt_rate(value):
    return f"{value:,.0f}"


def fmt_ms(microseconds):
    return f"{microseconds / 1000:.2f}"


def render(machine_info, medians, micro_command, http, seconds_total):
    lines = []
    add = lines.append
    add("# Benchmarks")
    add("")
    add("Generated by scripts/bench.sh (bench/run_bench.py), which `make bench` runs, on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, in {seconds_total / 60:.1f} "
        "minutes. Every number in the tables below was measured in that one run on the "
        "machine below, unless a row says it is quoted.")
    add("")
    add("## Machine")
    add("")
    add(f"- CPU: {machine_info['cpu']} ({machine_info['cores']} cores seen by the kernel)")
    add(f"- Kernel: Linux {machine_info['kernel']}; memory {machine_info['memory_gib']:.1f} GiB")
    load = ", ".join(f"{x:.2f}" for x in machine_info["load"])
    add(f"- Load average when the run started: {load}. The machine is shared, so absolute "
        "rates are noisy; the ratios of figures measured side by side are the result.")
    add("- Build: the default CMake build type, RelWithDebInfo (-O2 -g). "
        "Google Benchmark prints \"Library was built as DEBUG\" because Debian's "
        "libbenchmark package is built that way; it affects only the benchmark "
        "framework's own code, not the code measured.")
    add("")
    add("## Verification against the raw signature")
    add("")
    add(f"Command: `{micro_command} ...` (median of 3 repetitions, 1 s each, one thread).")
    add("")
    add("| benchmark | time per call (CPU) | calls per second per core |")
    add("|---|---:|---:|")
    for name, entry in medians.items():
        cpu_us = entry["cpu_time"] / 1000 if entry["time_unit"] == "ns" else entry["cpu_time"]
        add(f"| {name} | {cpu_us:.1f} us | {fmt_rate(entry['items_per_second'])} |")
    add("")

    def rate(name):
        return medians[name]["items_per_second"] if name in medians else float("nan")

    add("What the rows measure (bench/verify_benchmark.cc):")
    add("")
    add("- RawEcdsaP384Verify, RawEcdsaP256Verify: OpenSSL EVP_DigestVerify of one signature "
        "over 672 bytes (SHA-384) and 632 bytes (SHA-256), the sizes that an SEV-SNP report "
        "and a TDX quote sign.")
    add("- RawRsaPss4096Verify: one RSA-4096 RSASSA-PSS verify, the signature on AMD's ARK, "
        "ASK and VCEK certificates.")
    add("- RsaPublicCheck2048: EVP_PKEY_public_check on an RSA-2048 key, which the key broker "
        "runs on the guest's key in every release. RsaSign3072: one RS256 signature with the "
        "RSA-3072 token signing key, which signs every token and every release response. "
        "EcdsaP256Sign, EcdsaP384Sign: one ES256 and one ES384 signature, the same work with "
        "`vouch serve --signing-key-type ec-p256` or `ec-p384`.")
    add("- SnpVerifyReport: snp::VerifyReport on a real Milan report with its VCEK and the "
        "Milan chain, parsed before the loop, with the verified-chain cache "
        "(snp/chain_cache.h) warm. SnpVerifyReportCold clears that cache before each call. "
        "SnpEndorsementChain: only the VCEK <- ASK <- ARK chain, cache cleared before each "
        "call. SnpReportSignatureOnly: only parsing the report and verifying its signature, "
        "the floor for a verifier that caches verified chains.")
    add("- TdxVerifyQuoteSignatures: dcap::VerifyQuoteSignatures (PCK chain from the quote, QE "
        "report, quote signature, PCK extensions) on a real version-4 quote. The Simulated rows "
        "run the same on a simulated quote, and TdxVerifyQuoteSimulated adds the collateral "
        "checks and the TCB evaluation (dcap::VerifyQuote). Rows without Cold run with the "
        "caches of dcap/verify_cache.h warm (PCK chain, QE report, collateral signatures); the "
        "Cold rows clear them before each call.")
    add("")
    add("| ratio | value |")
    add("|---|---:|")
    ratios = [
        ("SEV-SNP VerifyReport, warm chain cache / raw ECDSA P-384 verify", "BM_SnpVerifyReport",
         "BM_RawEcdsaP384Verify"),
        ("SEV-SNP VerifyReport, cold / raw ECDSA P-384 verify", "BM_SnpVerifyReportCold",
         "BM_RawEcdsaP384Verify"),
        ("SEV-SNP report signature only / raw ECDSA P-384 verify", "BM_SnpReportSignatureOnly",
         "BM_RawEcdsaP384Verify"),
        ("TDX VerifyQuoteSignatures (real quote), warm caches / raw ECDSA P-256 verify",
         "BM_TdxVerifyQuoteSignatures", "BM_RawEcdsaP256Verify"),
        ("TDX VerifyQuoteSignatures (real quote), cold / raw ECDSA P-256 verify",
         "BM_TdxVerifyQuoteSignaturesCold", "BM_RawEcdsaP256Verify"),
        ("TDX VerifyQuote with collateral (simulated), warm caches / raw ECDSA P-256 verify",
         "BM_TdxVerifyQuoteSimulated", "BM_RawEcdsaP256Verify"),
        ("TDX VerifyQuote with collateral (simulated), cold / raw ECDSA P-256 verify",
         "BM_TdxVerifyQuoteSimulatedCold", "BM_RawEcdsaP256Verify"),
    ]
    for label, numerator, denominator in ratios:
        add(f"| {label} | {rate(numerator) / rate(denominator):.1%} |")
    add("")

    add("## HTTP attestation and key release")
    add("")
    add("Server: `vouch serve --listen 127.0.0.1:0 --allow-simulated-snp --threads 2 "
        "--token-lifetime 3600` on a SQLite store. Load: `wrk -t min(2,c) -c <c> -d "
        f"{SECONDS}s -s bench/wrk_post.lua` on the same machine, so wrk and the server share the "
        "2 cores. A release is `POST /keys/bench/release` with one token fetched before the run "
        "(an RSA-2048 key wrapped to the guest's RSA key, and the response signed with the "
        "RSA-3072 token key). An attestation is `POST /attest/SevSnpVm` with a simulated SEV-SNP "
        "report and its certificate chain in the request; no collateral service is called.")
    add("")
    add("| request | connections | requests/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | socket errors |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind in ("release", "attest"):
        for r in http[kind]:
            add(f"| {kind} | {r['connections']} | {fmt_rate(r['rate'])} | {fmt_ms(r['p50_us'])} | "
                f"{fmt_ms(r['p90_us'])} | {fmt_ms(r['p99_us'])} | {fmt_ms(r['max_us'])} | "
                f"{r['non_2xx']} | {r['socket_errors']} |")
    half = http["half_peak"]
    peak = max(r["rate"] for r in http["release"])
    add("")
    add(f"Peak release rate: {fmt_rate(peak)}/s. At about half of it (16 connections, each "
        f"waiting {half['delay_ms']} ms before each request, {max(SECONDS, 10)} s): "
        f"{fmt_rate(half['rate'])} releases/s, p50 {fmt_ms(half['p50_us'])} ms, p99 "
        f"{fmt_ms(half['p99_us'])} ms, max {fmt_ms(half['max_us'])} ms, "
        f"{half['non_2xx']} non-2xx.")
    add("")
    es = http["es256"]
    add("The same release runs on a second server started with `--signing-key-type ec-p256`, "
        "so tokens and release responses are signed with ES256 (EC P-256) instead of RS256 "
        "(RSA-3072):")
    add("")
    add("| request | connections | requests/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | socket errors |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in es["release"]:
        add(f"| release ES256 | {r['connections']} | {fmt_rate(r['rate'])} | "
            f"{fmt_ms(r['p50_us'])} | {fmt_ms(r['p90_us'])} | {fmt_ms(r['p99_us'])} | "
            f"{fmt_ms(r['max_us'])} | {r['non_2xx']} | {r['socket_errors']} |")
    es_half = es["half_peak"]
    es_peak = max(r["rate"] for r in es["release"])
    add("")
    add(f"Peak ES256 release rate: {fmt_rate(es_peak)}/s. At about half of it (16 connections, "
        f"each waiting {es_half['delay_ms']} ms before each request, {max(SECONDS, 10)} s): "
        f"{fmt_rate(es_half['rate'])} releases/s, p50 {fmt_ms(es_half['p50_us'])} ms, p99 "
        f"{fmt_ms(es_half['p99_us'])} ms, max {fmt_ms(es_half['max_us'])} ms, "
        f"{es_half['non_2xx']} non-2xx.")
    add("")
    add("## Memory")
    add("")
    add(f"- Resident size (VmRSS from /proc/<pid>/status) after start-up and one key creation: "
        f"{http['idle_rss_kib'] / 1024:.1f} MiB; largest sample (every 0.25 s) during the release "
        f"and attestation runs above: {http['load_rss_kib_max'] / 1024:.1f} MiB; peak (VmHWM): "
        f"{http['hwm_kib'] / 1024:.1f} MiB.")
    allocations = http.get("allocations")
    if allocations:
        add(f"- Heap allocation calls per release: {allocations['per_release']:.0f}. Heaptrack 1.4 "
            "(`heaptrack -o FILE vouch serve ...`) counted the calls to malloc, calloc, realloc "
            "and operator new, OpenSSL's included. A run with "
            f"{allocations['requests']:,} releases (wrk, 4 connections, 3 s) made "
            f"{allocations['load_calls']:,} calls, and a run that only starts, attests once and "
            f"stops made {allocations['idle_calls']:,}.")
    else:
        add("- Heap allocations per release: not measured, heaptrack is not installed "
            "(Debian package heaptrack).")
    add("")
    add("## Growth of the store")
    add("")
    add("Before each row the server is stopped and bench/store_fill.cc grows its SQLite file "
        "in one transaction: filler keys are copies of the bench key's row, nonces are random "
        "and expire in a day, audit records are chained like real ones. Then the server starts "
        f"again, a token is fetched, and wrk sends releases of the bench key (4 connections, "
        f"{SECONDS} s).")
    add("")
    add("| keys | outstanding nonces | audit records | database MiB | fill s | server start s | releases/s | p50 ms | p99 ms |")
    add("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for g in http["growth"]:
        add(f"| {g['keys']:,} | {g['nonces']:,} | {g['audit']:,} | {g['db_mib']:.0f} | "
            f"{g['fill_seconds']:.1f} | {g['start_seconds']:.2f} | {fmt_rate(g['rate'])} | "
            f"{fmt_ms(g['p50_us'])} | {fmt_ms(g['p99_us'])} |")
    add("")
    add("## Published figures (quoted, not measured)")
    add("")
    add("| service | published limit | as a rate |")
    add("|---|---|---:|")
    add("| Azure Key Vault (vault), HSM-protected RSA 2,048-bit key, all transactions but "
        "CREATE | 2,000 per 10 seconds per vault per region | 200/s |")
    add("| Azure Managed HSM, RSA 2,048-bit unwrap | about 1,100 per second per HSM partition "
        "(an instance has three) | about 1,100/s |")
    add("")
    add("Sources: the vault figure is in the key transactions table of \"Azure Key Vault "
        "service limits\", https://learn.microsoft.com/en-us/azure/key-vault/general/"
        "service-limits. The Managed HSM figure was not checked against its source, the "
        "per-partition throughput tables of \"Azure Managed HSM Scaling Guidance\", "
        "https://learn.microsoft.com/en-us/azure/key-vault/managed-hsm/scaling-guidance: the "
        "copy of that page read for this report ended before the tables. The vault figure is a throttling limit "
        "of a shared service reached over the network; vouch's figures are one 2-core machine "
        "on loopback. Compare orders of magnitude only.")
    add("")
    return "\n".join(lines)


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    build = sys.argv[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    output = sys.argv[2] if len(sys.argv) == 3 else os.path.join(root, "docs", "benchmarks.md")
    for tool in ("wrk",):
        if shutil.which(tool) is None:
            print(f"bench: {tool} not found: install the Debian package {tool}", file=sys.stderr)
            return 1

    started = time.monotonic()
    machine_info = machine()
    medians, micro_command = micro_benchmarks(build)
    work = tempfile.mkdtemp(prefix="vouch-bench-")
    try:
        http = http_benchmarks(build, work)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or ""
        log(f"failed: {error} {detail}; server log and data kept in {work}")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    text = render(machine_info, medians, micro_command, http, time.monotonic() - started)
    analysis = ANALYSIS_MARKER + "\n\n## Analysis\n\n(to be written after a run)\n"
    if os.path.exists(output):
        existing = open(output).read()
        if ANALYSIS_MARKER in existing:
            analysis = existing[existing.index(ANALYSIS_MARKER):]
    with open(output, "w") as f:
        f.write(text + "\n" + analysis)
    log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
