# Install rules and the CMake package for out-of-tree plug-ins (sim/plugin_loader.h):
#   cmake --install build/release --prefix P
# installs bin/ptcsim, the SDK headers under include/ptcsim/ and lib/cmake/ptcsim/, so that a
# plug-in does `find_package(ptcsim)` and `target_link_libraries(x PRIVATE ptcsim::sdk)`.
# ptcsim::sdk is header-only: a plug-in links nothing else, its ptcsim symbols resolve against
# the ptcsim executable when it is loaded.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

foreach(h IN LISTS PTC_SDK_HEADERS)
  get_filename_component(dir ${h} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${h} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ptcsim/${dir})
endforeach()
# The SDK's identity (cmake/ptcsim_sdk_abi.cmake), which plug-ins compile in.
install(FILES ${PTC_SDK_ABI_HEADER} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ptcsim/sim)

add_library(ptc_sdk INTERFACE)
set_target_properties(ptc_sdk PROPERTIES EXPORT_NAME sdk)
target_include_directories(ptc_sdk INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/ptcsim>)
target_compile_features(ptc_sdk INTERFACE cxx_std_17)
# models/graph.h uses Boost.Graph (header-only).
target_link_libraries(ptc_sdk INTERFACE nlohmann_json::nlohmann_json Boost::boost)

install(TARGETS ptcsim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
set_target_properties(ptcsim PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS ptc_sdk EXPORT ptcsimTargets)
set(PTC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ptcsim)
install(EXPORT ptcsimTargets NAMESPACE ptcsim:: DESTINATION ${PTC_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/ptcsimConfig.cmake.in ${PROJECT_BINARY_DIR}/ptcsimConfig.cmake
  INSTALL_DESTINATION ${PTC_CMAKE_DIR} PATH_VARS CMAKE_INSTALL_BINDIR)
# Plug-ins bind to the executable's symbols: same major.minor only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ptcsimConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ptcsimConfig.cmake ${PROJECT_BINARY_DIR}/ptcsimConfigVersion.cmake
  DESTINATION ${PTC_CMAKE_DIR})
