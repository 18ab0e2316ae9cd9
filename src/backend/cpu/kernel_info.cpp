#include "backend/cpu/kernel_info.h"

#include "backend/cpu/attention.h"
#include "backend/cpu/matmul.h"
#include "common/cpu_features.h"

namespace pagoda::backend {

std::string CpuKernelSummary() {
  std::string s = std::string("matmul=") + MatMulKernelName();
  s += HasFastKernel(loader::DType::kQ4_1) ? " fast-int8=vnni" : " fast-int8=scalar";
  s += HasFastKernel(loader::DType::kBF16) ? " fast-bf16=avx512bf16" : " fast-bf16=none";
  s += std::string(" attention=") + AttentionKernelName();
  s += " (cpu: " + GetCpuFeatures().ToString() + ")";
  return s;
}

}  // namespace pagoda::backend
