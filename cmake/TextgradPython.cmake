# Finds Python and pybind11 for the bindings; sets pybind11_FOUND.
# The interpreter: Python3_EXECUTABLE if given, else the first of `python3` on PATH and
# /usr/bin/python3 that can run the test suite (has pytest), else whatever FindPython picks.
# (A PATH python3 from pyenv or conda often lacks Debian's python3-pytest.)
if(NOT Python3_EXECUTABLE)
  find_program(TEXTGRAD_PATH_PYTHON python3)
  foreach(candidate ${TEXTGRAD_PATH_PYTHON} /usr/bin/python3)
    execute_process(COMMAND ${candidate} -c "import pytest"
      RESULT_VARIABLE has_pytest OUTPUT_QUIET ERROR_QUIET)
    if(has_pytest EQUAL 0)
      set(Python3_EXECUTABLE ${candidate} CACHE FILEPATH "Python interpreter for the bindings")
      break()
    endif()
  endforeach()
endif()
find_package(Python3 3.8 COMPONENTS Interpreter Development.Module QUIET)
set(pybind11_FOUND FALSE)
if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=")
  # The interpreter cannot load an extension built with a sanitizer (its runtime must be
  # loaded first), so sanitizer builds leave the bindings out unless asked for.
  message(STATUS "Python bindings: off by default in a sanitizer build")
elseif(Python3_FOUND)
  set(PYBIND11_FINDPYTHON ON)
  find_package(pybind11 CONFIG QUIET)
endif()
