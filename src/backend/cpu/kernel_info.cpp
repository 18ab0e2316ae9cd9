#include "backend/cpu/kernel_info.h"

#include "backend/cpu/attention.h"
#include "backend/cpu/matmul.h"
#include "common/cpu_features.h"

namespace pagoda::backend {

std::string CpuKernelSummary() {
  std::string s = std::string("matmul=") + MatMulKernelName();
  // --fast-matmul falls back to the exact kernels where a format has no fast one.
  s += std::string(" fast-int8=") + FastInt8KernelName();
  s += HasFastKernel(loader::DType::kBF16) ? " fast-bf16=avx512bf16" : " fast-bf16=none(exact)";
  s += std::string(" attention=") + AttentionKernelName();
  s += " (cpu: " + GetCpuFeatures().ToString() + ")";
  return s;
}

}  // namespace pagoda::backend
