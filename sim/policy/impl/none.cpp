// `none`: direct deployment, no remediation (DOCTOR's "ideal" and "noise-aware" baselines).
#include "sim/policy/policy.h"

namespace ptc::sim {
namespace {
class NonePolicy : public Policy {};
const Registrar<Policy> reg{
    {"none", "direct deployment: no monitoring, no remediation", {}, [](Params&) { return std::make_unique<NonePolicy>(); }}};
}  // namespace
}  // namespace ptc::sim
