// pickle_tool: drives formats/pickle from tests/integration/test_pickle_compat.py.
//
//   pickle_tool dump < in.pkl > out.pkl   Loads() then Dumps() (protocol 2)
//   pickle_tool repr < in.pkl             prints Repr() and a newline
//
// Bad input exits 1 with the error on stderr.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "formats/pickle.h"

int main(int argc, char** argv) {
  std::string mode = argc == 2 ? argv[1] : "";
  if (mode != "dump" && mode != "repr") {
    std::cerr << "usage: pickle_tool dump|repr < pickle\n";
    return 2;
  }
  std::string in((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto v = replicant::pickle::Loads(in);
  if (!v.ok()) {
    std::cerr << v.status().ToString() << "\n";
    return 1;
  }
  std::string out = mode == "dump" ? replicant::pickle::Dumps(*v) : v->Repr() + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
