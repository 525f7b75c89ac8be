#include "cli/cli_args.h"

#include <iostream>

namespace po = boost::program_options;

namespace replicant::cli {

int ParseCommandLine(const char* command, int argc, char** argv,
                     const po::options_description& desc, std::string* config,
                     po::variables_map* vm, std::vector<std::string>* words) {
  po::options_description hidden;
  hidden.add_options()("config", po::value(config));
  po::positional_options_description pos;
  pos.add("config", 1);
  if (words) {
    hidden.add_options()("words", po::value(words));
    pos.add("words", -1);
  }
  po::options_description all;
  all.add(desc).add(hidden);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), *vm);
    po::notify(*vm);
  } catch (const std::exception& e) {
    std::cerr << "replicant " << command << ": " << e.what() << "\n" << desc << "\n";
    return 2;
  }
  if (vm->count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  return -1;
}

int ParseArgs(const char* command, const char* usage, int argc, char** argv,
              const po::options_description& desc, po::variables_map* vm,
              std::vector<std::string>* args) {
  po::options_description hidden;
  hidden.add_options()("args", po::value(args));
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("args", -1);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), *vm);
    po::notify(*vm);
  } catch (const po::error& e) {
    return UsageError(command, usage, e.what());
  }
  if (vm->count("help")) {
    std::cout << usage << desc;
    return 0;
  }
  return -1;
}

int UsageError(const char* command, const char* usage, const std::string& msg) {
  std::cerr << "replicant " << command << ": " << msg << "\n" << usage;
  return 2;
}

}  // namespace replicant::cli
