/* The C example on a hosted system: standard output, exit status. */
#include <stdio.h>

int example(void);

void out(const char *s) { fputs(s, stdout); }

int main(void) { return example(); }
