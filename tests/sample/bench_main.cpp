// sample_bench [rows] [vocab] [threads]: time of Sampler::Sample per step for
// `rows` rows of LLM-like logits, per parameter mix. Not a test (CI does not time).

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "sample/sampler.h"

using namespace pagoda;
using namespace pagoda::sample;

int main(int argc, char** argv) {
  const int rows = argc > 1 ? std::atoi(argv[1]) : 256;
  const int64_t V = argc > 2 ? std::atoll(argv[2]) : 151936;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  // LLM-like rows: a long tail with a few high logits.
  std::vector<float> base(static_cast<size_t>(rows) * V);
  std::mt19937 gen(1);
  std::normal_distribution<float> tail(-2.0f, 2.0f);
  std::uniform_int_distribution<int64_t> pick(0, V - 1);
  for (float& x : base) x = tail(gen);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < 8; ++k) base[r * V + pick(gen)] += 8.0f + k;
  std::vector<int32_t> prompt(512), output(128);
  for (auto& t : prompt) t = static_cast<int32_t>(pick(gen));
  for (auto& t : output) t = static_cast<int32_t>(pick(gen));

  struct Mix {
    std::string name;
    SamplingParams p;
    bool null_params = false;
  };
  std::vector<Mix> mixes;
  mixes.push_back({"greedy (no params)", {}, true});
  {
    SamplingParams p; p.temperature = 0; p.logprobs = 5;
    mixes.push_back({"greedy + logprobs=5", p});
  }
  {
    SamplingParams p; p.temperature = 0.8;
    mixes.push_back({"temperature 0.8", p});
  }
  {
    SamplingParams p; p.temperature = 0.7; p.top_k = 50;
    mixes.push_back({"temperature + top_k 50", p});
  }
  {
    SamplingParams p; p.temperature = 0.7; p.top_p = 0.9;
    mixes.push_back({"temperature + top_p 0.9", p});
  }
  {
    SamplingParams p; p.temperature = 0.7; p.top_k = 20; p.top_p = 0.8;
    mixes.push_back({"temperature + top_k + top_p", p});
  }
  {
    SamplingParams p; p.temperature = 0.7; p.min_p = 0.05;
    mixes.push_back({"temperature + min_p 0.05", p});
  }
  {
    SamplingParams p; p.temperature = 0; p.repetition_penalty = 1.1; p.presence_penalty = 0.5;
    p.frequency_penalty = 0.3;
    mixes.push_back({"greedy + penalties", p});
  }
  {
    SamplingParams p; p.temperature = 0.7; p.top_k = 20; p.top_p = 0.8; p.min_p = 0.05;
    p.repetition_penalty = 1.1; p.presence_penalty = 0.5; p.frequency_penalty = 0.3; p.logprobs = 5;
    mixes.push_back({"everything + logprobs=5", p});
  }
  std::unique_ptr<ThreadPool> pool;
  if (threads > 1) pool = std::make_unique<ThreadPool>(threads);
  Sampler sampler(SamplerConfig{}, pool.get());
  std::vector<float> logits(base.size());
  std::vector<SampleResult> out;
  std::printf("rows %d, vocab %lld, threads %d\n", rows, static_cast<long long>(V), threads);
  for (const Mix& m : mixes) {
    std::vector<SamplingParams> params(rows, m.p);
    std::vector<SamplingRow> srows(rows);
    for (int r = 0; r < rows; ++r) {
      params[r].seed = r;
      srows[r].params = m.null_params ? nullptr : &params[r];
      srows[r].prompt_ids = prompt;
      srows[r].output_ids = output;
    }
    // Wall time, and this thread's CPU time (steadier on a shared machine; with
    // threads > 1 it counts only the calling thread's share).
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      logits = base;
      timespec c0, c1;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
      const auto t0 = std::chrono::steady_clock::now();
      sampler.Sample(logits.data(), V, srows, out);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
      best_cpu = std::min(best_cpu, (c1.tv_sec - c0.tv_sec) + 1e-9 * (c1.tv_nsec - c0.tv_nsec));
    }
    std::printf("  %-26s wall %8.2f ms/step %7.1f us/row   cpu %7.1f us/row\n", m.name.c_str(), best * 1e3,
                best * 1e6 / rows, best_cpu * 1e6 / rows);
  }
  return 0;
}
