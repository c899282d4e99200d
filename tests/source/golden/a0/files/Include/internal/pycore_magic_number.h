/*
    Python 3.14rc3 3627 (Fix miscompilation of some module-level annotations)
    Python 3.15a0 3650 (Initial version)
    Python 3.15a1 3651 (Simplify LOAD_CONST)
    Python 3.15a1 3652 (Replace DUP_TOP with COPY and
                        ROT_TWO with SWAP)
    Python 3.16a0 3700 (Initial version)


    Python 3.17 will start with 3750

    Please don't copy-paste the same pre-release tag for new entries above!!!
*/

#define PYC_MAGIC_NUMBER 3700
