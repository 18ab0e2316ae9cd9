#include "cli/bench_dataset.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/bench_stats.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {

using nlohmann::json;

std::vector<BenchRequest> RandomRequests(int64_t n, int64_t input_len, int64_t output_len, double range_ratio, int64_t vocab_size,
                                         uint64_t seed) {
  BenchRng rng(seed);
  const std::vector<int64_t> in = RandomLengths(n, input_len, range_ratio, rng);
  const std::vector<int64_t> out = RandomLengths(n, output_len, range_ratio, rng);
  std::vector<BenchRequest> reqs(in.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    BenchRequest& r = reqs[i];
    r.prompt_ids.resize(static_cast<size_t>(in[i]));
    for (int32_t& id : r.prompt_ids) id = static_cast<int32_t>(rng.UniformInt(0, vocab_size - 1));
    r.prompt_len = in[i];
    r.output_len = out[i];
  }
  return reqs;
}

namespace {

bool IsUserTurn(const std::string& from) { return from == "human" || from == "user"; }

// One item; *skip = true for a ShareGPT item vLLM would drop.
Result<BenchRequest> ParseItem(const json& j, const tokenizer::Tokenizer* tok, const DatasetFileOptions& o, bool* skip) {
  *skip = false;
  if (!j.is_object()) return InvalidArgument("each item must be a JSON object");
  BenchRequest r;
  r.output_len = o.output_len;
  bool sharegpt = false;
  int64_t reply_len = -1;
  try {
    if (j.contains("prompt_ids")) {
      r.prompt_ids = j["prompt_ids"].get<std::vector<int32_t>>();
      if (r.prompt_ids.empty()) return InvalidArgument("'prompt_ids' is empty");
    } else if (j.contains("prompt")) {
      r.prompt_text = j["prompt"].get<std::string>();
    } else if (j.contains("conversations")) {
      const json& c = j["conversations"];
      if (!c.is_array()) return InvalidArgument("'conversations' must be a list");
      sharegpt = true;
      size_t i = 0;
      while (i < c.size() && !IsUserTurn(c[i].value("from", c[i].value("role", "")))) ++i;
      if (i + 1 >= c.size()) {  // needs a prompt and a reply
        *skip = true;
        return r;
      }
      r.prompt_text = c[i].value("value", c[i].value("content", ""));
      const std::string reply = c[i + 1].value("value", c[i + 1].value("content", ""));
      if (tok) reply_len = static_cast<int64_t>(tok->Encode(reply, false).size());
    } else {
      return InvalidArgument("an item needs 'prompt', 'prompt_ids' or 'conversations'");
    }
    if (j.contains("output_len")) r.output_len = j["output_len"].get<int64_t>();
    else if (j.contains("max_tokens")) r.output_len = j["max_tokens"].get<int64_t>();
    else if (reply_len >= 0) r.output_len = reply_len;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("bad field: ") + e.what());
  }
  if (o.force_output_len) r.output_len = o.output_len;
  if (!r.prompt_text.empty() && tok) r.prompt_ids = tok->Encode(r.prompt_text, true);
  r.prompt_len = static_cast<int64_t>(r.prompt_ids.size());
  if (sharegpt && tok) {
    const int64_t out = reply_len;
    if (r.prompt_len < 4 || (!o.force_output_len && out < 4) || r.prompt_len > 1024 || r.prompt_len + r.output_len > 2048) *skip = true;
  }
  if (r.output_len < 1) return InvalidArgument("output length must be at least 1, got " + std::to_string(r.output_len));
  if (r.prompt_text.empty() && r.prompt_ids.empty()) *skip = true;
  return r;
}

}  // namespace

Result<std::vector<BenchRequest>> LoadDatasetFile(const std::string& path, const tokenizer::Tokenizer* tok, const DatasetFileOptions& o) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const size_t first = text.find_first_not_of(" \t\r\n");
  std::vector<BenchRequest> out;
  auto add = [&](const json& j, const std::string& where) -> Status {
    bool skip = false;
    auto r = ParseItem(j, tok, o, &skip);
    if (!r.ok()) return r.status().WithContext(where);
    if (!skip) out.push_back(std::move(*r));
    return Status::Ok();
  };
  auto full = [&] { return o.num_prompts > 0 && static_cast<int64_t>(out.size()) >= o.num_prompts; };
  if (first != std::string::npos && text[first] == '[') {  // one JSON array (ShareGPT files)
    json arr;
    try {
      arr = json::parse(text);
    } catch (const json::exception& e) {
      return InvalidArgument(path + ": not valid JSON: " + e.what());
    }
    for (size_t i = 0; i < arr.size() && !full(); ++i) PAGODA_RETURN_IF_ERROR(add(arr[i], path + "[" + std::to_string(i) + "]"));
  } else {
    std::istringstream lines(text);
    std::string line;
    int lineno = 0;
    while (!full() && std::getline(lines, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception& e) {
        return InvalidArgument(path + ":" + std::to_string(lineno) + ": not valid JSON: " + e.what());
      }
      PAGODA_RETURN_IF_ERROR(add(j, path + ":" + std::to_string(lineno)));
    }
  }
  if (out.empty()) return InvalidArgument(path + ": no usable prompts");
  return out;
}

}  // namespace pagoda::cli
