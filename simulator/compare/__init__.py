"""``pmsim compare``: one book under several margin regimes, side by side.

- ``regimes``   parse ``--regimes isolated,cross,portfolio:deribit`` into checked choices;
- ``observe``   the positions-mode policy: liquidation observed per bar, never taken;
- ``evaluate``  each regime's requirements and would-be liquidations on the observed book;
- ``capital``   the capital table (``comparison.parquet``), a pure function of run folders;
- ``folder``    the comparison folder: its marker and the rules for replacing one;
- ``run``       rules and positions mode, end to end;
- ``cli``       the sub-command.
"""
