"""Operations: the stack launcher, embedded servers and command-line tools."""
