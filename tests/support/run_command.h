// Running shell commands from tests: capture what they print, check a tool exists.
#pragma once

#include <string>

namespace loom::testing {

struct CommandResult {
  int exitCode = -1;   // the command's exit status, or -1 if it did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs `command` through the shell with stderr merged into stdout.
CommandResult runCommand(const std::string& command);

// Whether the shell finds `name` (`command -v name`).
bool haveCommand(const char* name);

// The path of a program the build put in bin/: $LOOM_BUILD_DIR/bin/<name>, or
// ./bin/<name> when LOOM_BUILD_DIR is unset.
std::string builtProgramPath(const std::string& name);

}  // namespace loom::testing
