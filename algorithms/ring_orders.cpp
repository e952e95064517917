#include "algorithms/ring_orders.h"

#include <algorithm>
#include <numeric>

namespace loom {

std::vector<std::vector<int>> complementaryRingOrders(int nranks, int rings) {
  std::vector<std::vector<int>> orders;
  if (nranks < 1 || rings < 1) return orders;
  const int n = nranks;
  auto strided = [n](int step) {
    std::vector<int> order(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = static_cast<int>(static_cast<long>(i) * step % n);
    return order;
  };
  orders.push_back(strided(1));
  // With two or fewer ranks the reverse walks the same directed pairs.
  if (n <= 2) return orders;
  auto add = [&](std::vector<int> order) {
    if (static_cast<int>(orders.size()) < rings) orders.push_back(std::move(order));
  };
  std::vector<int> reversed = orders[0];
  std::reverse(reversed.begin(), reversed.end());
  add(std::move(reversed));
  // Step k walks the directed pairs (a, a+k); distinct steps mod n walk
  // disjoint sets of them, and only a step coprime to n visits every rank.
  for (int k = 2; 2 * k < n && static_cast<int>(orders.size()) < rings; ++k) {
    if (std::gcd(k, n) != 1) continue;
    add(strided(k));
    add(strided(n - k));
  }
  return orders;
}

}  // namespace loom
