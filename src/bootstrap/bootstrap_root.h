// The bootstrap root: a short-lived thread that gathers every rank's address
// and hands the full table back, then exits.
#pragma once

#include "bootstrap/wire.h"

namespace loom {

// Starts the root listening on `address` (port 0: any free port; the chosen
// port is written back). Connections without `token` are refused. If not all
// ranks arrive within LOOM_TIMEOUT_S, the ranks that did get an error naming
// the missing ones.
Status startBootstrapRoot(SocketAddress& address, const Token& token);

}  // namespace loom
