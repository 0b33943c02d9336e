/* qmac.c - the qmac command (placeholder main, replaced by the real CLI). */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "qmac: not yet\n");
    return 1;
}
