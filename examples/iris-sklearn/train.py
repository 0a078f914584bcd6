"""Train the example: a logistic regression on the iris data set (shipped with scikit-learn)."""
import os

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=500).fit(X, y)
joblib.dump(model, os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.joblib"))
print("wrote model.joblib; accuracy on the training data:", round(model.score(X, y), 3))
