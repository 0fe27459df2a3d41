//===- Generate.cpp - tessera-run's generation loop -----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "Generate.h"

#include "tessera/runtime/Npy.h"
#include "tessera/runtime/Tokenizer.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <algorithm>

namespace tessera::tools {
using namespace rt;

bool parsePrompts(const std::string &text, std::vector<std::vector<int64_t>> &prompts,
                  std::string &error) {
  prompts.assign(1, {});
  size_t i = 0;
  while (i <= text.size()) {
    size_t end = text.find_first_of(",;", i);
    if (end == std::string::npos)
      end = text.size();
    std::string item = text.substr(i, end - i);
    while (!item.empty() && item.front() == ' ')
      item.erase(item.begin());
    while (!item.empty() && item.back() == ' ')
      item.pop_back();
    if (!item.empty()) {
      char *stop = nullptr;
      errno = 0;
      long long v = std::strtoll(item.c_str(), &stop, 10);
      if (*stop || errno || v < 0) {
        error = "'" + item + "' is not a token id";
        return false;
      }
      prompts.back().push_back(v);
    }
    if (end < text.size() && text[end] == ';')
      prompts.emplace_back();
    i = end + 1;
  }
  for (size_t p = 0; p < prompts.size(); ++p)
    if (prompts[p].empty()) {
      error = "prompt " + std::to_string(p) + " has no token ids";
      return false;
    }
  return true;
}

void printPackedWeights(const Package &package) {
  if (uint64_t bytes = package.packedBytes())
    std::printf("packed weights: %.1f MiB (copies the CPU kernels made once, shared by the "
                "package's sessions)\n",
                double(bytes) / (1024.0 * 1024.0));
}

int runGeneration(const Package &package, DecodeRunner &runner, Session &session,
                  const GenerateCliOptions &cli, const std::vector<PrefillSession> &prefills,
                  DecodeRunner *encoder) {
  std::vector<std::vector<int64_t>> prompts;
  std::string error;
  std::unique_ptr<Tokenizer> tokenizer;
  if (!cli.tokenizer.empty())
    if (Status s = Tokenizer::load(cli.tokenizer, tokenizer); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      return 1;
    }
  if (!cli.prompts.empty()) {
    if (!tokenizer) {
      std::fprintf(stderr, "error: --prompt needs --tokenizer tokenizer.json (or give token ids "
                           "with --prompt-ids)\n");
      return 2;
    }
    if (!cli.promptIds.empty()) {
      std::fprintf(stderr, "error: give --prompt or --prompt-ids, not both\n");
      return 2;
    }
    for (const std::string &text : cli.prompts) {
      prompts.emplace_back();
      if (Status s = tokenizer->encode(text, prompts.back()); !s.ok()) {
        std::fprintf(stderr, "error: --prompt: %s\n", s.message().c_str());
        return 1;
      }
      if (prompts.back().empty()) {
        std::fprintf(stderr, "error: --prompt '%s' encodes to no tokens\n", text.c_str());
        return 2;
      }
    }
  } else if (cli.promptIds.empty()) {
    std::fprintf(stderr, "error: a generation package needs --prompt-ids (e.g. 464,2068;1,2: "
                         "one prompt per sequence) or --tokenizer and --prompt\n");
    return 2;
  } else if (!parsePrompts(cli.promptIds, prompts, error)) {
    std::fprintf(stderr, "error: --prompt-ids: %s\n", error.c_str());
    return 2;
  }
  GenerateOptions options = cli.generate;
  bool streaming = cli.stream && prompts.size() == 1;
  // What each printed sequence starts with: the prompt, or an
  // encoder-decoder's decoder start token (the sequence HF's generate gives).
  std::vector<std::vector<int64_t>> heads = prompts;
  if (isEncoderDecoder(package))
    heads.assign(prompts.size(), {decoderStartToken(package)});
  // Streaming text: print what the decoded text gained, once it is whole
  // UTF-8 (a character may span tokens).
  std::vector<int64_t> streamed = heads.empty() ? std::vector<int64_t>() : heads[0];
  std::string shown;
  if (streaming && tokenizer) {
    shown = tokenizer->decode(streamed);
    std::printf("%s", shown.c_str());
    std::fflush(stdout);
    options.onToken = [&](size_t, int64_t token) {
      streamed.push_back(token);
      std::string text = tokenizer->decode(streamed);
      if (text.compare(0, shown.size(), shown) == 0 &&
          text.find("\xEF\xBF\xBD", shown.size()) == std::string::npos) {
        std::printf("%s", text.substr(shown.size()).c_str());
        std::fflush(stdout);
        shown = text;
      }
    };
  } else if (streaming) {
    std::printf("ids:");
    for (int64_t t : heads[0])
      std::printf(" %lld", (long long)t);
    std::fflush(stdout);
    options.onToken = [](size_t, int64_t token) {
      std::printf(" %lld", (long long)token);
      std::fflush(stdout);
    };
  }
  session.enableProfiling(cli.profile);
  GenerateResult result;
  if (Status s = generate(runner, package, prompts, options, result, prefills, encoder);
      !s.ok()) {
    if (streaming)
      std::printf("\n");
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  if (streaming)
    std::printf("\n");
  size_t width = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    width = std::max(width, heads[b].size() + result.tokens[b].size());
    if (streaming && !tokenizer)
      continue;
    std::printf("ids:");
    for (int64_t t : heads[b])
      std::printf(" %lld", (long long)t);
    for (int64_t t : result.tokens[b])
      std::printf(" %lld", (long long)t);
    std::printf("\n");
    if (tokenizer && !streaming) {
      std::vector<int64_t> all = heads[b];
      all.insert(all.end(), result.tokens[b].begin(), result.tokens[b].end());
      std::printf("text: %s\n", tokenizer->decode(all).c_str());
    }
  }
  if (!cli.outputIds.empty()) {
    HostTensor out;
    out.dtype = DType::I64;
    out.shape = {int64_t(prompts.size()), int64_t(width)};
    out.data.resize(prompts.size() * width * sizeof(int64_t));
    auto *v = reinterpret_cast<int64_t *>(out.data.data());
    for (size_t b = 0; b < prompts.size(); ++b) {
      size_t k = 0;
      for (int64_t t : heads[b])
        v[b * width + k++] = t;
      for (int64_t t : result.tokens[b])
        v[b * width + k++] = t;
      while (k < width)
        v[b * width + k++] = -1; // shorter sequences (stopped early) are padded
    }
    if (Status s = writeNpy(cli.outputIds, out); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      return 1;
    }
  }
  if (cli.profile) {
    std::printf("prefill: %lld run(s) in %.3f ms (%s)\n", (long long)result.promptSteps,
                result.promptSeconds * 1e3,
                prefills.empty() ? "the prompt one position per step"
                                 : "a prefill program, then the rest of longer prompts step by step");
    double perToken =
        result.decodeSteps ? result.decodeSeconds / double(result.decodeSteps) : 0.0;
    std::printf("decode: %lld step(s), %.3f ms per step, %.1f tokens/s (%lld tokens)\n",
                (long long)result.decodeSteps, perToken * 1e3,
                result.decodeSeconds > 0 ? double(result.decodeTokens) / result.decodeSeconds
                                         : 0.0,
                (long long)result.decodeTokens);
    // Where a decode step's time goes, by op.
    std::map<std::string, double> byOp;
    double total = 0;
    for (const KernelProfile &k : session.profile()) {
      byOp[k.op] += k.seconds;
      total += k.seconds;
    }
    std::vector<std::pair<double, std::string>> order;
    for (const auto &[op, t] : byOp)
      order.push_back({t, op});
    std::sort(order.rbegin(), order.rend());
    std::printf("decode step by op:");
    for (size_t i = 0; i < order.size() && i < 8; ++i)
      std::printf(" %s %.0f%%", order[i].second.c_str(),
                  total > 0 ? 100.0 * order[i].first / total : 0.0);
    std::printf("\n");
    printPackedWeights(package);
  }
  return 0;
}

} // namespace tessera::tools
