#!/usr/bin/env bash
# The CPU-speed figures of the README: for the default model as GGUF Q4_1 (exact,
# --fast-matmul, and that with a float16 KV cache) and as its bf16 HF copy (exact,
# --fast-matmul with bf16 dot products, and int8 per channel at load),
# measures with `pagoda bench` (medians of REPS runs):
#   roofline limits, decode tok/s at batch 1, prefill of a 512-token prompt,
#   decode at 64 sequences, engine overhead at 64 sequences, start-up to ready.
# Usage: scripts/bench_cpu.sh [out_dir]      (REPS=3 THREADS=2 by default)
# The bf16 copy is made by tools/bench/make_bf16_copy.py; rows without it are skipped.
# Run it on a quiet machine: every figure is a rate of this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-out}
reps=${REPS:-3}
threads=${THREADS:-2}
bin=./build/pagoda
mkdir -p "$out"
gguf=$(bash scripts/fetch_default_model.sh)
bf16=${PAGODA_BF16_COPY:-$HOME/.cache/pagoda/hf/smollm2-135m-instruct-bf16}

# name | model | load flags (roofline too) | KV cache flags (the runs only)
configs=("q4_1-exact|$gguf||" "q4_1-fast|$gguf|--fast-matmul|" "q4_1-fast-kv16|$gguf|--fast-matmul|--kv-cache-dtype float16")
if [ -f "$bf16/config.json" ]; then
  configs+=("bf16-exact|$bf16||" "bf16-fast|$bf16|--fast-matmul|" "bf16-int8-fast|$bf16|--quantization int8 --fast-matmul|")
fi

for c in "${configs[@]}"; do
  IFS='|' read -r name model load_flags kv_flags <<<"$c"
  flags="$load_flags $kv_flags"
  echo "== $name" >&2
  # shellcheck disable=SC2086
  $bin bench roofline --model "$model" $load_flags --threads "$threads" --min-seconds 1 --json "$out/$name.roofline.json" >"$out/$name.roofline.txt"
  bw=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['read_bandwidth_gbs'])" "$out/$name.roofline.json")
  peak=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['model']['prefill_peak_gflops'])" "$out/$name.roofline.json")
  for r in $(seq "$reps"); do
    # shellcheck disable=SC2086
    $bin bench latency --model "$model" $flags --threads "$threads" --batch-size 1 --input-len 128 --output-len 128 \
      --num-iters 1 --num-iters-warmup 1 --bandwidth-gbs "$bw" --peak-gflops "$peak" --json "$out/$name.b1.$r.json" >/dev/null
    # shellcheck disable=SC2086
    $bin bench latency --model "$model" $flags --threads "$threads" --batch-size 1 --input-len 512 --output-len 1 \
      --num-iters 1 --num-iters-warmup 1 --bandwidth-gbs "$bw" --peak-gflops "$peak" --json "$out/$name.p512.$r.json" >/dev/null
    # shellcheck disable=SC2086
    $bin bench latency --model "$model" $flags --threads "$threads" --batch-size 64 --input-len 32 --output-len 32 \
      --num-iters 1 --num-iters-warmup 0 --bandwidth-gbs "$bw" --peak-gflops "$peak" --json "$out/$name.b64.$r.json" >/dev/null
    # shellcheck disable=SC2086
    $bin bench throughput --model "$model" $flags --threads "$threads" --num-prompts 64 --input-len 32 --output-len 32 \
      --max-num-seqs 64 --json "$out/$name.tp64.$r.json" >/dev/null
  done
done

# Start-up: launch to the first 200 from /health, default model, exact path.
port=${PAGODA_BENCH_PORT:-18093}
for r in $(seq "$reps"); do
  t0=$(date +%s.%N)
  $bin serve "$gguf" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "pagoda serve exited" >&2; exit 1; }
    sleep 0.01
  done
  t1=$(date +%s.%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$t1" >"$out/startup.$r.txt"
done

python3 - "$out" "$reps" <<'EOF'
import glob, json, os, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
def med(pattern, key):
    vals = [json.load(open(p))[key] for p in sorted(glob.glob(os.path.join(out, pattern)))]
    return statistics.median(vals) if vals else float("nan")
rows = []
for rl in sorted(glob.glob(os.path.join(out, "*.roofline.json"))):
    name = os.path.basename(rl)[: -len(".roofline.json")]
    r = json.load(open(rl))
    m = r["model"]
    bw, peak = r["read_bandwidth_gbs"], m["prefill_peak_gflops"]
    dec_lim, pre_lim = m["decode_tokens_per_s_batch1_limit"], m["prefill_tokens_per_s_limit"]
    b1 = med(name + ".b1.*.json", "decode_tokens_per_s")
    p512_ms = med(name + ".p512.*.json", "prefill_ms_mean")
    p512 = 512 / (p512_ms / 1e3)
    b64 = med(name + ".b64.*.json", "decode_tokens_per_s")
    b64_lim = peak * 1e9 / (2 * m["parameters"])  # compute-bound at 64 sequences
    ovh = med(name + ".tp64.*.json", "engine_overhead_pct")
    rows.append((name, m["weight_format"], m["weight_bytes"] / 2**20, bw, peak, dec_lim, b1, pre_lim, p512, b64_lim, b64, ovh))
print(f"medians of {reps} runs; limits from `pagoda bench roofline` in the same run\n")
print("| load | weights | MiB | bandwidth GB/s | matmul peak GFLOP/s | decode b=1 limit | decode b=1 | prefill 512 limit | prefill 512 | 64-seq limit | decode 64 seqs | 64 / 1 | engine overhead |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for (n, f, mib, bw, peak, dl, b1, pl, p512, bl, b64, ovh) in rows:
    print(f"| {n} | {f} | {mib:.0f} | {bw:.1f} | {peak:.0f} | {dl:.0f} | {b1:.0f} ({100*b1/dl:.0f} %) | {pl:.0f} | {p512:.0f} ({100*p512/pl:.0f} %) "
          f"| {bl:.0f} | {b64:.0f} ({100*b64/bl:.0f} %) | {b64/b1:.1f}x | {ovh:.1f} % |")
st = [float(open(p).read()) for p in sorted(glob.glob(os.path.join(out, "startup.*.txt")))]
if st:
    print(f"\nstart-up to ready (`pagoda serve`, first 200 from /health): median {statistics.median(st):.2f} s of {len(st)}")
EOF
