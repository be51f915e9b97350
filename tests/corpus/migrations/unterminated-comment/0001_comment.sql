CREATE TABLE bad_comment (id int);
/* commented out, never closed
CREATE TABLE bad_comment_2 (id int);
