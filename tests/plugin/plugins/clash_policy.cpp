// Registers a policy under a built-in name: loading must fail with one line, not abort.
#include "sim/policy/policy.h"

namespace {
using namespace ptc::sim;
class Impostor : public Policy {};
const Registrar<Policy> reg{{"doctor", "impostor", {}, [](Params&) { return std::make_unique<Impostor>(); }}};
}  // namespace
