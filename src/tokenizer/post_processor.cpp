#include "tokenizer/post_processor.h"

namespace pagoda::tokenizer {
namespace {

using nlohmann::json;

class TemplateProcessor : public PostProcessor {
 public:
  TemplateProcessor(std::vector<int32_t> prefix, std::vector<int32_t> suffix)
      : prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}
  void Process(std::vector<int32_t>& ids) const override {
    ids.insert(ids.begin(), prefix_.begin(), prefix_.end());
    ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  }

 private:
  std::vector<int32_t> prefix_, suffix_;
};

class IdentityProcessor : public PostProcessor {
 public:
  void Process(std::vector<int32_t>&) const override {}
};

class SequenceProcessor : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> steps) : steps_(std::move(steps)) {}
  void Process(std::vector<int32_t>& ids) const override {
    for (const auto& s : steps_) s->Process(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

Result<std::unique_ptr<PostProcessor>> TemplateFromJson(const json& j) {
  const json& single = j.at("single");
  const json& specials = j.contains("special_tokens") ? j.at("special_tokens") : json::object();
  std::vector<int32_t> prefix, suffix;
  bool seen_a = false;
  for (const auto& item : single) {
    if (item.contains("Sequence")) {
      const std::string id = item.at("Sequence").at("id").get<std::string>();
      if (id != "A") return Unimplemented("TemplateProcessing: single template uses sequence '" + id + "'");
      if (seen_a) return Unimplemented("TemplateProcessing: $A used twice");
      seen_a = true;
      continue;
    }
    if (!item.contains("SpecialToken")) return InvalidArgument("TemplateProcessing: unknown template piece");
    const std::string name = item.at("SpecialToken").at("id").get<std::string>();
    if (!specials.contains(name)) return InvalidArgument("TemplateProcessing: special token '" + name + "' not listed");
    for (const auto& id : specials.at(name).at("ids")) (seen_a ? suffix : prefix).push_back(id.get<int32_t>());
  }
  if (!seen_a) return InvalidArgument("TemplateProcessing: single template has no $A");
  return MakeTemplate(std::move(prefix), std::move(suffix));
}

}  // namespace

std::unique_ptr<PostProcessor> MakeTemplate(std::vector<int32_t> prefix, std::vector<int32_t> suffix) {
  return std::make_unique<TemplateProcessor>(std::move(prefix), std::move(suffix));
}

Result<std::unique_ptr<PostProcessor>> PostProcessor::FromJson(const json& j) {
  using Ptr = std::unique_ptr<PostProcessor>;
  if (j.is_null()) return Ptr();
  const std::string type = j.at("type").get<std::string>();
  if (type == "TemplateProcessing") return TemplateFromJson(j);
  if (type == "ByteLevel") return Ptr(new IdentityProcessor());
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    // cls / sep are [token, id] pairs: <cls> $A <sep>.
    return MakeTemplate({j.at("cls").at(1).get<int32_t>()}, {j.at("sep").at(1).get<int32_t>()});
  }
  if (type == "Sequence") {
    std::vector<Ptr> steps;
    for (const auto& sub : j.at("processors")) {
      PAGODA_ASSIGN_OR_RETURN(auto p, FromJson(sub));
      if (p) steps.push_back(std::move(p));
    }
    return Ptr(new SequenceProcessor(std::move(steps)));
  }
  return Unimplemented("post_processor type '" + type + "' is not supported");
}

}  // namespace pagoda::tokenizer
