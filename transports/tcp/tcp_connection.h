// TCP transport: one connected socket per (pair of ranks, channel), carrying
// both directions. The receive side keeps a staging buffer so that peek() can
// hand the executor contiguous bytes to reduce from.
#pragma once

#include <memory>
#include <utility>

#include "common/socket.h"
#include "transports/connection.h"

namespace loom {

// Splits a connected socket into its two directions.
Result<std::pair<std::unique_ptr<SendConnection>, std::unique_ptr<RecvConnection>>> makeTcpConnections(
    Socket socket, int peerRank);

}  // namespace loom
