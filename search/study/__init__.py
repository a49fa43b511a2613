"""The study (`posetune study`): every arm × seed as Tune trials of one budget (`run`), the tables, effects
and plots written from them (`report`), and the statistics behind each interval and verdict (`stats`)."""
