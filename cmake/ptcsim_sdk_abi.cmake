# The plug-in SDK's identity (sim/plugin_loader.h): PTC_SDK_ABI = "<version>-<16 hex digits of the
# SHA-256 of the SDK headers>", generated into sim/sdk_abi.h. A plug-in compiles it in through
# its Registrar objects (sim/params.h) and the loader refuses a plug-in built against other SDK
# headers: plug-ins bind to the executable's symbols and class layouts, so a changed header can
# crash or silently change them. Editing an SDK header re-runs CMake and changes the identity.
# What a policy or noise-process plug-in includes (sim/policy/policy.h, sim/params.h,
# sim/scenario.h) and everything they include from this project, transitively. tests/plugin builds
# plug-ins against the installed set, so a missing header fails there.
set(PTC_SDK_HEADERS
  sim/policy/policy.h sim/params.h sim/scenario.h sim/traffic/traffic.h sim/dispatch/dispatcher.h
  models/error.h models/compiler.h models/dataset.h models/graph.h models/tensor.h models/mapped_gemm.h
  hw/physics/rng.h hw/physics/mrr.h hw/physics/pcm.h hw/energy.h hw/hardware_gemm.h hw/converters.h
  hw/physics/pcm_law.h sim/pcm_law_device.h hw/device/impl/pcm_scale_tile.h
  hw/device/mrr_bank.h hw/device/pcm_pair.h hw/device/pcm_optical.h hw/device/pcm_table.h hw/physics/pcm_levels.h hw/device/technology.h hw/device/block_realizer.h
  hw/noise/doctor_noise.h hw/noise/thermal_field.h hw/noise/noise_process.h hw/device/device.h sim/plugins.h)
set(_ptc_sdk_text "${PROJECT_VERSION}\n")
foreach(h IN LISTS PTC_SDK_HEADERS)
  file(READ ${PROJECT_SOURCE_DIR}/${h} _ptc_sdk_header)
  string(APPEND _ptc_sdk_text "${h}\n${_ptc_sdk_header}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${h})
endforeach()
string(SHA256 _ptc_sdk_hash "${_ptc_sdk_text}")
string(SUBSTRING "${_ptc_sdk_hash}" 0 16 _ptc_sdk_hash)
set(PTC_SDK_ABI "${PROJECT_VERSION}-${_ptc_sdk_hash}")
set(PTC_SDK_ABI_DIR ${PROJECT_BINARY_DIR}/sdk_abi)
set(PTC_SDK_ABI_HEADER ${PTC_SDK_ABI_DIR}/sim/sdk_abi.h)
configure_file(${CMAKE_CURRENT_LIST_DIR}/sdk_abi.h.in ${PTC_SDK_ABI_HEADER} @ONLY)
