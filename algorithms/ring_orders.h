// Rank orders for running several rings at once (BuildOptions::ringOrders).
#pragma once

#include <vector>

namespace loom {

// Up to `rings` rank orders of 0..nranks-1 whose rings share no directed
// neighbour pair (a followed by b), so that rings on different channels load
// different directions of full-duplex links. Order 0 is the natural order,
// order 1 its reverse, then pairs of strided orders i*k mod n and i*(n-k)
// mod n for each step k with 1 < k < n/2 and gcd(k, n) = 1. Orders 2j and
// 2j+1 are one ring walked both ways; as unordered pairs, rings of different
// j share no neighbours. Fewer than `rings` orders come back when no more
// disjoint ones exist (phi(n) of them for n > 2, one for n <= 2). Empty for
// rings < 1 or nranks < 1.
//
// The orders are in rank ids, which say nothing about where ranks sit: a
// strided ring on consecutive-rank hosts crosses hosts at almost every hop.
std::vector<std::vector<int>> complementaryRingOrders(int nranks, int rings);

}  // namespace loom
