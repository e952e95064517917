# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
include("/work/main/build/tests/ring_test[1]_include.cmake")
include("/work/main/build/tests/collective_matrix_test[1]_include.cmake")
include("/work/main/build/tests/numeric_test[1]_include.cmake")
