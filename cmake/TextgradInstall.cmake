# Installation: the library, its headers and data, a CMake package (find_package(textgrad) ->
# textgrad::textgrad) and a pkg-config file. Both are relocatable: they locate the prefix from
# their own path, so an install moved to another folder keeps working.
include(CMakePackageConfigHelpers)

set(TEXTGRAD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/textgrad)

# Everything here is in the component "textgrad" (`cmake --install build --component textgrad`
# installs the library without the command-line tool).
install(TARGETS textgrad EXPORT textgradTargets COMPONENT textgrad
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/textgrad DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT textgrad)
install(DIRECTORY data/ DESTINATION ${CMAKE_INSTALL_DATADIR}/textgrad COMPONENT textgrad)
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/textgrad COMPONENT textgrad)

install(EXPORT textgradTargets NAMESPACE textgrad:: DESTINATION ${TEXTGRAD_CMAKE_DIR}
  COMPONENT textgrad)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/textgradConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/textgradConfig.cmake INSTALL_DESTINATION ${TEXTGRAD_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/textgradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/textgradConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/textgradConfigVersion.cmake DESTINATION ${TEXTGRAD_CMAKE_DIR}
  COMPONENT textgrad)

# A static library needs its dependencies on the consumer's link line; a shared one does not.
if(TEXTGRAD_SHARED)
  set(TEXTGRAD_PC_REQUIRES "")
  set(TEXTGRAD_PC_REQUIRES_PRIVATE "libcurl sqlite3 libcrypto fmt simdjson hiredis")
else()
  set(TEXTGRAD_PC_REQUIRES "libcurl sqlite3 libcrypto fmt simdjson hiredis")
  set(TEXTGRAD_PC_REQUIRES_PRIVATE "")
endif()
file(RELATIVE_PATH TEXTGRAD_PC_PREFIX_FROM_PCDIR
  ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
configure_file(${CMAKE_CURRENT_LIST_DIR}/textgrad.pc.in ${CMAKE_CURRENT_BINARY_DIR}/textgrad.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/textgrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT textgrad)
