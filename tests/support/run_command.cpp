#include "support/run_command.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

namespace loom::testing {

CommandResult runCommand(const std::string& command) {
  CommandResult result;
  std::fflush(stdout);  // so the test's own output comes before the command's
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exitCode = WEXITSTATUS(status);
  return result;
}

bool haveCommand(const char* name) {
  return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

std::string builtProgramPath(const std::string& name) {
  const char* dir = std::getenv("LOOM_BUILD_DIR");
  return std::string(dir != nullptr ? dir : ".") + "/bin/" + name;
}

}  // namespace loom::testing
