#pragma once
// The CPU kernels chosen at start-up from the detected features, for the CLI to
// print ("matmul=avx512+vnni attention=avx512 ...").

#include <string>

namespace pagoda::backend {

std::string CpuKernelSummary();

}  // namespace pagoda::backend
