// What `import RecurrentKit` brings: the core types and both backends' public types (device
// listings, memory-cache control).
@_exported import CPUBackend
@_exported import OpenCLBackend
@_exported import RecurrentCore
