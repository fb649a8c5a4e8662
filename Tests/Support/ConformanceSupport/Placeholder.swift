import KernelABI
