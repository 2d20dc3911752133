// Reading the small text files the subcommands take (study YAML, tokens).
#ifndef VERNIER_CLI_FILES_H_
#define VERNIER_CLI_FILES_H_

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace vernier::cli {

// The whole file, or nullopt when it cannot be read.
inline std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace vernier::cli

#endif  // VERNIER_CLI_FILES_H_
